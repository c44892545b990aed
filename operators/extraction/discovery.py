"""Character discovery without a cast: names found by frequency next to speech verbs, aliases merged.

English: capitalised name sequences (with an optional title: Mr., Mrs., Miss, Dr., Lady ...) that are not
ordinary sentence-initial words and that are somewhere the subject of a speech verb ("said Lucy"; places
never are) unless they carry a title; a lone given name or surname merges into the one longer name that
contains it. Chinese: two- or three-character strings right before a speech verb, starting with a common
surname; a given name (少平) merges into the full name (孙少平) it ends. Gender comes from titles, then
from the pronouns that follow the name. spaCy NER is used instead for English when a trained pipeline is
installed (`en_core_web_sm` or larger).
"""

from __future__ import annotations

import re
from collections import Counter

from operators.extraction.cast import Cast, CastMember
from operators.extraction.lexicon import EN_SPEECH_VERBS
from operators.extraction.quotes import Utterance

MALE_TITLES = {"Mr", "Mr.", "Sir", "Lord", "Monsieur", "Father", "Uncle", "Captain", "Colonel", "Dr", "Dr.", "Count", "Prince", "King"}
FEMALE_TITLES = {"Mrs", "Mrs.", "Miss", "Ms", "Ms.", "Lady", "Madame", "Mme", "Mme.", "Mademoiselle", "Aunt", "Mother", "Countess", "Princess", "Queen"}
_TITLE_WORDS = {t.rstrip(".") for t in MALE_TITLES | FEMALE_TITLES}
_TITLE = r"(?:Mr\.?|Mrs\.?|Ms\.?|Miss|Dr\.?|Sir|Lady|Lord|Madame|Mme\.?|Monsieur|Captain|Colonel|Aunt|Uncle|Count|Countess|Prince|Princess|King|Queen)"
_EN_NAME = re.compile(rf"\b(?:{_TITLE}\s+)?[A-Z][a-z]+(?:\s+[A-Z][a-z]+)?\b")
_EN_STOP = set(
    "I The A An And But Or If When Then There This That These Those It He She They We You My His Her Our Their Your What Who Why How "
    "Where Yes No Oh Ah Well Now Here Not So Do Does Did Is Are Was Were Be Have Has Had Will Would Shall Should Can Could May Might Must "
    "Let All Some Any One Two Three Mr Mrs Miss Sir Lady Lord God Good Dear Poor Chapter Monday Tuesday Wednesday Thursday Friday "
    "Saturday Sunday January February March April June July August September October November December English French London As At "
    "By For From In Into Of On To With Without After Before Only Perhaps Indeed Very Even Still Yet Just Nothing Everything Something".split()
)
ZH_SURNAMES = set(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾"
    "夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申"
    "欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古"
    "吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝"
)
_ZH_VERB = re.compile(r"(?:说|道|问|喊|叫|答|嚷|笑着说|笑道)")
_ZH_STOP_CHARS = set("的了是在他她我你们这那就也都又还不着过把被给对向和与一个有没人么什怎")


def discover_cast(text: str, utterances: list[Utterance], language: str, min_count: int = 3) -> Cast:
    """A cast found in the text itself."""
    if language == "zh":
        return _discover_zh(text, min_count)
    return _discover_en(text, utterances, min_count)


def _narration(text: str, utterances: list[Utterance]) -> str:
    """The text with quoted words blanked out (offsets kept): names inside quotes are often addressees."""
    chars = list(text)
    for utterance in utterances:
        for start, end in utterance.spans:
            chars[start:end] = " " * (end - start)
    return "".join(chars)


def _discover_en(text: str, utterances: list[Utterance], min_count: int) -> Cast:
    try:
        return _discover_spacy(text, utterances, min_count)
    except (ImportError, OSError):
        pass
    narration = _narration(text, utterances)
    lower_words = Counter(w for w in re.findall(r"\b[a-z][a-z]+\b", narration))
    counts: Counter[str] = Counter()
    for match in _EN_NAME.finditer(narration):
        name = " ".join(match.group().split())
        words = name.split()
        if words[0] in _EN_STOP and len(words) == 1:
            continue
        if words[0] in _EN_STOP and words[0].rstrip(".") not in _TITLE_WORDS:
            name = " ".join(words[1:])
            words = words[1:]
        if not _plain_words(name) or any(lower_words[w.lower()] > 2 for w in _plain_words(name)):
            continue
        counts[name] += 1
    speakers = _speech_subjects(narration)
    # the subject of a speech verb ("said Mara Quinn") is a character even in a short text
    names = [n for n, c in counts.most_common() if c >= min_count or n in speakers]
    return _merge([n for n in names if n.split()[0].rstrip(".") in _TITLE_WORDS or n in speakers], counts, narration)


def _speech_subjects(narration: str) -> set[str]:
    """Names right after or before a speech verb ("said Lucy", "Lucy quietly replied"): people, never places."""
    speech = re.compile(r"\b(?:" + "|".join(EN_SPEECH_VERBS) + r")\b")
    after = re.compile(r"\s+(" + _EN_NAME.pattern + ")")
    before = re.compile(r"(" + _EN_NAME.pattern + r")\s+(?:\w+ly\s+)?$")
    found: set[str] = set()
    for match in speech.finditer(narration):
        following = after.match(narration, match.end(), match.end() + 60)
        if following:
            found.add(" ".join(following.group(1).split()))
        preceding = before.search(narration, max(0, match.start() - 60), match.start())
        if preceding:
            found.add(" ".join(preceding.group(1).split()))
    return found


def _discover_spacy(text: str, utterances: list[Utterance], min_count: int) -> Cast:
    import importlib.util

    model = next((n for n in ("en_core_web_trf", "en_core_web_lg", "en_core_web_md", "en_core_web_sm") if importlib.util.find_spec(n)), None)
    if model is None:
        raise ImportError("no trained spaCy English pipeline installed")
    import spacy

    nlp = spacy.load(model, disable=["lemmatizer", "parser"])
    narration = _narration(text, utterances)
    counts: Counter[str] = Counter()
    for start in range(0, len(narration), 100_000):
        for entity in nlp(narration[start:start + 100_000]).ents:
            if entity.label_ == "PERSON":
                counts[" ".join(entity.text.split())] += 1
    return _merge([n for n, c in counts.most_common() if c >= min_count], counts, narration)


def _merge(names: list[str], counts: Counter[str], narration: str) -> Cast:
    """Shorter names merge into the one longer name whose words contain them; gender from titles and pronouns.
    A rarer full name (Lucy Vance, said once) joins the frequent short name it contains (Lucy)."""
    members: list[CastMember] = []
    for name in sorted(names, key=lambda n: (-len(n.split()), -counts[n])):
        container = _container(name, members)
        if container is not None:
            container.aliases.append(name)
        else:
            members.append(CastMember(name, [name], None))
    kept = set(names)
    for name in sorted((n for n in counts if n not in kept and len(n.split()) > 1), key=lambda n: -counts[n]):
        words = set(_plain_words(name))
        owners = [m for m in members if any(set(_plain_words(a)) <= words for a in m.aliases)]
        if len(owners) == 1 and not _conflicting_titles(name, owners[0]):
            owners[0].aliases.append(name)
    for member in members:
        # The most frequent alias is what the book calls the character.
        member.name = max(member.aliases, key=lambda a: counts[a])
        member.aliases = [member.name] + [a for a in member.aliases if a != member.name]
        member.gender = next((g for g in (_gender(a, narration) for a in member.aliases) if g), None)
    return Cast(members)


def _plain_words(name: str) -> list[str]:
    return [w for w in name.split() if w.rstrip(".") not in _TITLE_WORDS]


def _container(name: str, members: list[CastMember]) -> CastMember | None:
    """The one known character whose longer names contain all the words of `name`, if exactly one."""
    words = _plain_words(name)
    containers = [m for m in members if words and all(any(w in a.split() for a in m.aliases) for w in words)]
    if len(containers) == 1 and not _conflicting_titles(name, containers[0]):
        return containers[0]
    return None


def _conflicting_titles(name: str, member: CastMember) -> bool:
    title = name.split()[0]
    genders = {"M" if a.split()[0] in MALE_TITLES else "F" for a in member.aliases if a.split()[0] in MALE_TITLES | FEMALE_TITLES}
    mine = "M" if title in MALE_TITLES else "F" if title in FEMALE_TITLES else None
    return mine is not None and bool(genders) and genders != {mine}


def _gender(name: str, narration: str) -> str | None:
    title = name.split()[0]
    if title in MALE_TITLES:
        return "M"
    if title in FEMALE_TITLES:
        return "F"
    male = female = 0
    # Subject pronouns only: "Darcy looked at her" says nothing about Darcy.
    for match in re.finditer(re.escape(name) + r"\b[^\n]{0,60}?\b([Hh]e|[Ss]he)\b", narration):
        if match.group(1).lower() == "he":
            male += 1
        else:
            female += 1
    if male + female < 2:
        return None
    return "M" if male > female else "F"


def _discover_zh(text: str, min_count: int) -> Cast:
    clause_start = re.compile(r"(?:^|(?<=[。，！？：；、”“\n\s]))")
    verb_adjacent: Counter[str] = Counter()
    for match in _ZH_VERB.finditer(text):
        for length in (2, 3):
            candidate = text[max(0, match.start() - length):match.start()]
            if len(candidate) == length and all("\u4e00" <= c <= "\u9fff" and c not in _ZH_STOP_CHARS for c in candidate):
                verb_adjacent[candidate] += 1

    def starts_clauses(name: str) -> int:
        # A name begins clauses (润叶回答说); a fragment across a name and a verb (叶回答) does not.
        return len(re.findall(clause_start.pattern + re.escape(name), text))

    full = [n for n, c in verb_adjacent.items() if c >= 2 and n[0] in ZH_SURNAMES and n[-1] not in "地得着了" and starts_clauses(n) >= min_count]
    members = [CastMember(n, [n], _gender_zh(n, text)) for n in sorted(full, key=lambda n: -text.count(n)) if len(n) == 3]
    for name in sorted(full, key=lambda n: -text.count(n)):
        if len(name) == 2 and not any(m.name.startswith(name) for m in members):
            members.append(CastMember(name, [name], _gender_zh(name, text)))
    for member in members:
        given = member.name[1:]
        if len(member.name) == 3 and starts_clauses(given) >= min_count:
            member.aliases.append(given)
    return Cast(members)


def _gender_zh(name: str, text: str) -> str | None:
    male = len(re.findall(re.escape(name) + r"[^。！？“”]{0,20}他(?!们)", text))
    female = len(re.findall(re.escape(name) + r"[^。！？“”]{0,20}她(?!们)", text))
    if male + female < 2:
        return None
    return "M" if male > female else "F"
