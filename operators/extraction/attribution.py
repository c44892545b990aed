"""Speaker attribution by rules: explicit, anaphoric, implicit (turn alternation), vocatives, aliases.

Each utterance gets `speaker` (a cast main name or None), `method` (explicit | anaphoric | implicit |
none) and `confidence`. The passes, in order (docs/extraction.md lists every rule with an example):

1. Reporting clause: the narration next to a quote ("…," said Emma / Emma replied: "…" / 晓霞问道：“…”),
   or the tag line before or (Chinese line layout) after it, holds a speech verb and a name (explicit)
   or a pronoun (anaphoric). Names are attributed first, then pronouns, resolved to the character the
   previous quote addressed, the paragraph's subject, or the most recent character of that gender who
   did not just speak. "I said" goes to the narrator, found from the vocatives around such quotes.
2. Action beat: narration of the quote's paragraph, or of the narration paragraph just before it, that
   starts with a character ("Emma laughed. '…'") gives that character (explicit, lower confidence).
3. Turn alternation inside a run of turns (adjacent paragraphs or short narration between): A-B-A-B,
   forward and backward; a name used as a vocative in a quote is the addressee, so it is not the speaker
   but it is the likely next speaker.
4. What is left: the most recently mentioned character that neither just spoke nor is addressed.
"""
from __future__ import annotations

import bisect
import re
from collections import Counter
from dataclasses import dataclass
from itertools import pairwise

from operators.extraction.cast import Cast, CastMember, Mentions, expand_aliases
from operators.extraction.lexicon import EN_SPEECH_NOUNS, EN_SPEECH_VERBS, ZH_SPEECH_VERBS
from operators.extraction.quotes import Utterance
from operators.extraction.text import SENTENCE_END, Paragraph

EN_PRONOUNS = {"he": "M", "she": "F", "him": "M", "her": "F", "i": "I"}
ZH_PRONOUNS = {"他": "M", "她": "F", "我": "I"}
_EN_VERB = re.compile(r"\b(?:" + "|".join([*EN_SPEECH_VERBS, *EN_SPEECH_NOUNS]) + r")\b", re.IGNORECASE)
_EN_POSSESSIVE_PRONOUN_SPEECH = re.compile(r"\b([Hh]is|[Hh]er)\s+(?:\w+\s+){0,2}?(?:" + "|".join(EN_SPEECH_NOUNS) + r")\b")
_EN_POSSESSIVE_SPEECH = re.compile(r"['’]s\s+(?:\w+\s+){0,2}?(?:" + "|".join(EN_SPEECH_NOUNS) + r")\b")
_ZH_VERB = re.compile("|".join(sorted(ZH_SPEECH_VERBS, key=len, reverse=True)))
_EN_PRONOUN = re.compile(r"\b(?:[Hh]e|[Ss]he|I)\b")
_ZH_PRONOUN = re.compile(r"[他她我](?![们們])")
# "said her father", "cried his wife": a person described by a noun of known gender, resolved like a pronoun.
_EN_NOUN_GENDER = {
    **dict.fromkeys("father brother husband son uncle man gentleman boy lad fellow master sir lord nephew grandfather king prince".split(), "M"),
    **dict.fromkeys("mother sister wife daughter aunt woman lady girl mistress madam niece grandmother queen princess".split(), "F"),
}
_EN_NOUN_REFERENCE = re.compile(
    r"\b(?:his|her|the|my|our|your|their)\s+(?:(?:young|old|little|elder|younger|eldest|youngest|good|poor|other)\s+)?("
    + "|".join(_EN_NOUN_GENDER) + r")\b",
    re.IGNORECASE,
)
_EN_TITLE_VOCATIVE = re.compile(r"(?:^|[,!?]\s*)(sir|madam|ma'am|monsieur|madame|my lord|my lady|mister)\s*(?:[,.!?;]|$)", re.IGNORECASE)
_EN_I = re.compile(r"\bI\b")
_ZH_ADDRESSED_BEFORE = re.compile(r"(?:对|向|问|朝|冲)$")
_EN_OBJECT_BEFORE = re.compile(r"\b(?:to|at|with|of|for|towards|toward|from|upon|on|by|than|about|and|as)\s+$", re.IGNORECASE)
_ZH_OBJECT_BEFORE = re.compile(r"(?:对|向|给|跟|和|同|与|朝|冲|把|被|叫|让|问|望着|看着|盯着)$")


SHORT_NARRATION = 60  # characters of narration between two quotes that keep them in one run of turns


@dataclass
class Candidate:
    """A person reference in narration: a cast name, or a pronoun with its gender (M, F or I)."""

    start: int
    end: int
    name: str | None
    pronoun: str | None
    possessor: str | None = None  # "her mother": the gender of "her", who is not the speaker


class Attributor:
    """Attributes speakers to the utterances of one document."""

    def __init__(self, text: str, paras: list[Paragraph], cast: Cast, language: str) -> None:
        self.text = text
        self.paras = paras
        self.zh = language == "zh"
        if not self.zh:
            cast = expand_aliases(cast)
        self.gender = {m.name: m.gender for m in cast.members}
        if self.zh:
            # A one-character alias (霞, 亭) matches inside ordinary words far more often than it names someone.
            cast = Cast([CastMember(m.name, [a for a in m.aliases if len(a) > 1] or [m.name], m.gender) for m in cast.members])
        self.all_mentions = self._resolve_mentions(Mentions(cast).candidates(text))
        self.all_starts = [s for s, _, _ in self.all_mentions]
        self.verb = _ZH_VERB if self.zh else _EN_VERB
        self.pronoun = _ZH_PRONOUN if self.zh else _EN_PRONOUN
        self.pronoun_gender = ZH_PRONOUNS if self.zh else EN_PRONOUNS
        self.object_before = _ZH_OBJECT_BEFORE if self.zh else _EN_OBJECT_BEFORE
        self.clause_addressees: list[str] = []
        self.narration_mentions: list[tuple[int, str]] = []
        self.narrator: str | None = None

    @staticmethod
    def _resolve_mentions(found: list[tuple[int, int, list[str]]]) -> list[tuple[int, int, str]]:
        """An ambiguous alias (Miss Bennet) names whichever of its characters was mentioned last, nearby;
        else the one mentioned most often."""
        totals = Counter(names[0] for _, _, names in found if len(names) == 1)
        last_seen: dict[str, int] = {}
        resolved = []
        for start, end, names in found:
            if len(names) == 1:
                name = names[0]
            else:
                recent = [(last_seen[n], n) for n in names if n in last_seen and start - last_seen[n] < 5000]
                name = max(recent)[1] if recent else max(names, key=lambda n: totals[n])
            last_seen[name] = start
            resolved.append((start, end, name))
        return resolved

    def _find(self, start: int, end: int) -> list[tuple[int, int, str]]:
        """Resolved mentions inside text[start:end]."""
        first = bisect.bisect_left(self.all_starts, start)
        last = bisect.bisect_left(self.all_starts, end)
        return [m for m in self.all_mentions[first:last] if m[1] <= end]

    # --- narration helpers -------------------------------------------------------------------------------------

    def _narration_pieces(self, utterances: list[Utterance], para: Paragraph) -> list[tuple[int, int]]:
        """Ranges of a paragraph outside its quotes (the marks excluded)."""
        pieces, position = [], para.start
        for utterance in utterances:
            for start, end in utterance.spans:
                if start - 1 > position:
                    pieces.append((position, start - 1))
                position = max(position, end + 1)
        if position < para.end:
            pieces.append((position, para.end))
        return pieces

    def _candidates(self, start: int, end: int) -> list[Candidate]:
        """Names and pronouns in text[start:end], without those in object position or possessive."""
        found: list[Candidate] = []
        taken: list[tuple[int, int]] = []
        for s, e, name in self._find(start, end):
            # A possessive is not a speaker, except before a speech noun: "was Joe's reply".
            if not self.zh and self.text[e:e + 2] in ("'s", "’s") and not _EN_POSSESSIVE_SPEECH.match(self.text, e, min(end, e + 40)):
                continue
            found.append(Candidate(s, e, name, None))
            taken.append((s, e))
        for match in self.pronoun.finditer(self.text, start, end):
            if any(s <= match.start() < e for s, e in taken):
                continue
            found.append(Candidate(match.start(), match.end(), None, self.pronoun_gender[match.group().lower() if not self.zh else match.group()]))
        if not self.zh:
            for match in _EN_POSSESSIVE_PRONOUN_SPEECH.finditer(self.text, start, end):
                found.append(Candidate(match.start(), match.end(), None, "M" if match.group(1).lower() == "his" else "F"))
            for match in _EN_NOUN_REFERENCE.finditer(self.text, start, end):
                if not any(s <= match.start() < e for s, e in taken):
                    owner = {"his": "M", "her": "F"}.get(match.group().split()[0].lower())
                    found.append(Candidate(match.start(), match.end(), None, _EN_NOUN_GENDER[match.group(1).lower()], owner))
        found.sort(key=lambda c: c.start)
        # Subject pronouns (he, she, 他) cannot be objects; names and nouns after "to", "for", 对, 向… are.
        return [c for c in found if (c.pronoun and not c.name and self.text[c.start:c.end].lower() in ("he", "she", "i"))
                or not self.object_before.search(self.text[max(start, c.start - 12):c.start])]

    def _clause_after(self, position: int, limit: int) -> tuple[int, int]:
        """From a closing quote mark to the end of its clause (sentence end or the next quote)."""
        match = SENTENCE_END.search(self.text, position, limit)
        return position, (match.start() if match else limit)

    def _clause_before(self, position: int, floor: int) -> tuple[int, int]:
        """From the last sentence end before an opening quote mark to the mark."""
        start = floor
        for match in SENTENCE_END.finditer(self.text, floor, position):
            if match.end() < position:
                start = match.end()
        return start, position

    def _reporting(self, start: int, end: int, after: bool) -> Candidate | None:
        """The speaker reference of a reporting clause in text[start:end]: a speech verb and the person closest to it."""
        verbs = list(self.verb.finditer(self.text, start, end))
        if not verbs:
            return None
        if self.zh:
            # "田福军问乔书记": whoever is asked or spoken to is the likely next speaker. (The English
            # counterpart, "said Emma to Harriet", measured worse on PDNC and is not used.)
            self.clause_addressees = [
                name for s, _, name in self._find(start, end) if _ZH_ADDRESSED_BEFORE.search(self.text[max(start, s - 10):s])
            ]
        candidates = self._candidates(start, end)
        if not candidates:
            return None
        if self.zh or not after:
            # Subject first: 晓霞不笑了，嘴里喃喃地说 / Then Emma, turning round, said
            before_verb = [c for c in candidates if c.start < verbs[-1].start()]
            if not self.zh and before_verb and before_verb[0].name:
                # "When Harriet had gone, Emma said": of several names, the one nearest the verb.
                return [c for c in before_verb if c.name][-1]
            return (before_verb or candidates)[0]
        verb = verbs[0]
        return min(candidates, key=lambda c: c.start - verb.end() if c.start >= verb.end() else verb.start() - c.end + 1)

    # --- passes ----------------------------------------------------------------------------------------------

    def attribute(self, utterances: list[Utterance]) -> None:
        """Fill speaker, method and confidence of every utterance in place."""
        by_para: dict[int, list[Utterance]] = {}
        for utterance in utterances:
            by_para.setdefault(utterance.paragraph, []).append(utterance)
        quoted_paras = set(by_para)
        narration: dict[int, list[tuple[int, int]]] = {}
        for para in self.paras:
            narration[para.index] = self._narration_pieces(by_para.get(para.index, []), para)
            for start, end in narration[para.index]:
                for s, _, name in self._find(start, end):
                    self.narration_mentions.append((s, name))
        self.narration_mentions.sort()
        self.mention_starts = [s for s, _ in self.narration_mentions]
        for utterance in utterances:
            utterance.addressees = self._vocatives(utterance)
        first_person: list[int] = []
        pronouns: list[tuple[int, Candidate, str, float]] = []
        # Names first, then pronouns: a pronoun is resolved knowing who is named just before and after.
        for number, utterance in enumerate(utterances):
            if utterance.continues_previous and number > 0:
                continue
            self.clause_addressees = []
            reference, method, confidence = self._explicit(utterance, by_para, narration, quoted_paras)
            if reference is None:
                continue
            utterance.addressees.extend(n for n in self.clause_addressees if n not in utterance.addressees and n != reference.name)
            if reference.name:
                self._assign(utterance, reference, method, confidence, utterances, number)
            else:
                pronouns.append((number, reference, method, confidence))
        for number, reference, method, confidence in pronouns:
            self._assign(utterances[number], reference, method, confidence, utterances, number)
            if reference.pronoun == "I":
                first_person.append(number)
        self._find_narrator(utterances, first_person)
        if self.narrator and not self.zh:
            # In a first-person novel, "I" in the narration is a mention of the narrator.
            for pieces in narration.values():
                for start, end in pieces:
                    self.narration_mentions.extend((m.start(), self.narrator) for m in _EN_I.finditer(self.text, start, end))
            self.narration_mentions.sort()
            self.mention_starts = [s for s, _ in self.narration_mentions]
        self._continuations(utterances)
        self._alternate(utterances)
        self._fallback(utterances)
        self._continuations(utterances)

    def _explicit(self, utterance: Utterance, by_para: dict[int, list[Utterance]], narration, quoted_paras) -> tuple[Candidate | None, str, float]:
        para = self.paras[utterance.paragraph]
        siblings = by_para[utterance.paragraph]
        position = siblings.index(utterance)
        floor = siblings[position - 1].end + 1 if position > 0 else para.start
        ceiling = siblings[position + 1].start - 1 if position + 1 < len(siblings) else para.end
        # Between the spans of an interrupted quote, then after it, then before it.
        for (_, end), (next_start, _) in pairwise(utterance.spans):
            found = self._reporting(end + 1, next_start - 1, after=True)
            if found:
                return found, *self._grade(found, 0.95)
        found = self._reporting(*self._clause_after(utterance.end + 1, ceiling), after=True)
        if found:
            return found, *self._grade(found, 0.93)
        found = self._reporting(*self._clause_before(utterance.start - 1, floor), after=False)
        if found:
            return found, *self._grade(found, 0.9)
        if floor == para.start and utterance.start - 1 - para.start <= 1 and para.index > 0:
            previous = self.paras[para.index - 1]
            earlier = by_para.get(previous.index)
            start = earlier[-1].end + 1 if earlier else previous.start
            if previous.end - start > 1 and self.text[previous.end - 1] in ":：,，—-":
                found = self._reporting(*self._clause_before(previous.end, start), after=False)
                if found:
                    return found, *self._grade(found, 0.85)
            elif not self.zh and previous.end - start > 3 and not earlier:
                # A narration paragraph ending on a speech verb: "Mrs. Bennet ... continued her triumph."
                found = self._reporting(*self._clause_before(previous.end - 1, start), after=False)
                if found:
                    return found, *self._grade(found, 0.7)
        # Chinese line-per-paragraph text puts the tag on the next line ("她问。"); in English prose the next
        # paragraph is usually a reaction by someone else.
        if self.zh and ceiling == para.end and para.end - utterance.end <= 2 and para.index + 1 < len(self.paras):
            following = self.paras[para.index + 1]
            # A line ending in a colon introduces the next quote, not this one.
            if following.index not in quoted_paras and self.text[following.end - 1] not in ":：":
                start, end = self._clause_after(following.start, min(following.end, following.start + 40))
                found = self._reporting(start, end, after=True)
                if found and found.start - following.start <= 8:
                    return found, *self._grade(found, 0.8)
        # An action beat: the paragraph's narration names (or pronoun-refers to) its subject.
        pieces = [p for p in narration[para.index] if p[1] - p[0] > 3]
        if pieces:
            start, end = pieces[0]
            candidates = self._candidates(start, min(end, start + 60))
            if candidates and candidates[0].start - start <= (4 if self.zh else 12):
                return candidates[0], *self._grade(candidates[0], 0.6)
        # Chinese line layout: a narration line right after the quote that starts with a character (晓霞有点结巴地…).
        if self.zh and ceiling == para.end and para.index + 1 < len(self.paras) and para.index + 1 not in quoted_paras:
            following = self.paras[para.index + 1]
            candidates = [c for c in self._candidates(following.start, min(following.end, following.start + 20)) if c.name]
            if candidates and candidates[0].start - following.start <= 1:
                return candidates[0], "explicit", 0.5
        # A narration paragraph just before that starts with a character: "Emma turned to him. ..."
        if not self.zh and floor == para.start and para.index > 0 and para.index - 1 not in quoted_paras:
            previous = self.paras[para.index - 1]
            if not previous.heading and not previous.scene_break:
                start, end = previous.start, min(previous.end, previous.start + 80)
                candidates = [c for c in self._candidates(start, end) if c.name]
                if candidates and candidates[0].start - start <= 12:
                    return candidates[0], "explicit", 0.5
        return None, "none", 0.0

    def _grade(self, reference: Candidate, confidence: float) -> tuple[str, float]:
        return ("explicit", confidence) if reference.name else ("anaphoric", round(confidence * 0.8, 2))

    def _assign(self, utterance: Utterance, reference: Candidate, method: str, confidence: float, utterances, number: int) -> None:
        if reference.name:
            speaker: str | None = reference.name
        elif reference.pronoun == "I":
            speaker = None  # resolved once the narrator is known
        else:
            speaker = self._resolve_pronoun(reference, utterance, utterances, number)
        if speaker and speaker in utterance.addressees:
            return
        if speaker or reference.pronoun == "I":
            utterance.speaker, utterance.method, utterance.confidence = speaker, method, confidence
            if reference.pronoun == "I":
                utterance.method = "anaphoric"

    def _resolve_pronoun(self, reference: Candidate, utterance: Utterance, utterances: list[Utterance], number: int) -> str | None:
        """A pronoun's character: the paragraph's own subject of that gender; else the
        most recent character of that gender that did not just speak."""
        gender = reference.pronoun
        para = self.paras[utterance.paragraph]
        excluded = set(utterance.addressees)
        if reference.possessor:
            # "said her mother": "her" is the most recent woman, and she is not her own mother.
            index = bisect.bisect_left(self.mention_starts, reference.start) - 1
            while index >= 0 and reference.start - self.narration_mentions[index][0] < 3000:
                if self.gender.get(self.narration_mentions[index][1]) == reference.possessor:
                    excluded.add(self.narration_mentions[index][1])
                    break
                index -= 1
        index = bisect.bisect_left(self.mention_starts, para.start)
        while index < len(self.narration_mentions) and self.narration_mentions[index][0] < reference.start:
            name = self.narration_mentions[index][1]
            if self.gender.get(name) == gender and name not in excluded:
                return name
            index += 1
        previous = utterances[number - 1] if number > 0 and utterances[number - 1].paragraph >= para.index - 1 else None
        # Whoever the previous quote addressed by name is the likely one to answer.
        if previous is not None:
            addressed = [n for n in previous.addressees if self.gender.get(n) == gender and n not in excluded and n != previous.speaker]
            if len(addressed) == 1:
                return addressed[0]
        recent: list[tuple[int, str]] = []
        index = bisect.bisect_left(self.mention_starts, para.start) - 1
        while index >= 0 and (len(recent) < 12 and self.narration_mentions[index][0] > para.start - 4000 or not recent):
            if self.narration_mentions[index][0] < para.start - 30000:
                break
            recent.append(self.narration_mentions[index])
            index -= 1
        for back in range(number - 1, max(-1, number - 6), -1):
            if utterances[back].speaker:
                recent.append((utterances[back].start, utterances[back].speaker))
        recent.sort(reverse=True)
        just_spoke = previous.speaker if previous is not None else None
        compatible = [name for _, name in recent if self.gender.get(name) == gender and name not in excluded]
        following = utterances[number + 1] if number + 1 < len(utterances) and self._same_conversation(utterance, utterances[number + 1]) else None
        speaks_next = following.speaker if following is not None and following.method == "explicit" else None
        others = [name for name in compatible if name not in (just_spoke, speaks_next)]
        return (others or compatible or [None])[0]

    def _vocatives(self, utterance: Utterance) -> list[str]:
        """Names used to address someone inside the quote: "Emma, …", "…, Mr. Knightley?", "my dear Jane"."""
        found: list[str] = []
        for start, end in utterance.spans:
            for s, e, name in self._find(start, end):
                before = self.text[max(start, s - 10):s]
                after = self.text[e:e + 2]
                if self.zh:
                    vocative = (s == start or before[-1:] in "，。！？…") and (after[:1] in "，！？。…" or e == end)
                else:
                    vocative = (s == start or re.search(r"(?:[,!?]|\bdear|\bOh|\bO)\s*$", before) is not None) and (
                        after[:1] in ",!?.;" or e == end or after.startswith("--")
                    )
                if vocative and name not in found:
                    found.append(name)
        return found

    def _find_narrator(self, utterances: list[Utterance], first_person: list[int]) -> None:
        """The narrator of a first-person novel: who is addressed by name in the quotes around the "I said" quotes."""
        votes: Counter[str] = Counter()
        for number in first_person:
            for neighbour in (number - 1, number + 1):
                if 0 <= neighbour < len(utterances) and abs(utterances[neighbour].paragraph - utterances[number].paragraph) <= 2:
                    votes.update(utterances[neighbour].addressees)
        if votes:
            self.narrator = votes.most_common(1)[0][0]
        for number in first_person:
            utterance = utterances[number]
            if utterance.speaker is None and self.narrator and self.narrator not in utterance.addressees:
                utterance.speaker = self.narrator
            elif utterance.speaker is None:
                utterance.method, utterance.confidence = "none", 0.0

    def _continuations(self, utterances: list[Utterance]) -> None:
        for number in range(1, len(utterances)):
            utterance = utterances[number]
            if utterance.continues_previous and utterances[number - 1].speaker:
                previous = utterances[number - 1]
                utterance.speaker, utterance.method, utterance.confidence = previous.speaker, previous.method, previous.confidence

    def _same_conversation(self, a: Utterance, b: Utterance) -> bool:
        """Quotes of the same chapter in adjacent paragraphs, or with only short narration between them
        (a line-per-paragraph text puts "他问：" on its own line); a narration paragraph of any length
        between two quotes is as likely to change the speaker as not, so it ends the run."""
        first, second = (a, b) if a.paragraph <= b.paragraph else (b, a)
        gap = second.paragraph - first.paragraph
        if first.chapter != second.chapter or gap > 3:
            return False
        between = self.paras[first.paragraph + 1:second.paragraph]
        if any(p.scene_break or p.heading for p in between):
            return False
        return gap <= 1 or sum(p.end - p.start for p in between) <= SHORT_NARRATION

    def _alternate(self, utterances: list[Utterance]) -> None:
        """Fill A-B-A-B turns from attributed neighbours, forward then backward, until nothing changes."""
        changed = True
        while changed:
            changed = False
            for number, utterance in enumerate(utterances):
                if utterance.speaker:
                    continue
                guess, confidence = self._alternation_guess(utterances, number)
                if guess:
                    utterance.speaker, utterance.method, utterance.confidence = guess, "implicit", confidence
                    changed = True

    def _alternation_guess(self, utterances: list[Utterance], number: int) -> tuple[str | None, float]:
        """A vocative in the previous (or next) quote names this speaker; a quote in the same paragraph shares its
        speaker; otherwise the speaker two turns back, when the turn between was someone else."""
        utterance = utterances[number]
        for step in (-1, 1):
            near, far = number + step, number + 2 * step
            if not 0 <= near < len(utterances) or not self._same_conversation(utterance, utterances[near]):
                continue
            neighbour = utterances[near]
            if neighbour.addressees:
                name = neighbour.addressees[0]
                if name not in utterance.addressees and name != neighbour.speaker:
                    return name, 0.6
            if neighbour.paragraph == utterance.paragraph and neighbour.speaker:
                return neighbour.speaker, 0.6
            if 0 <= far < len(utterances) and self._same_conversation(utterances[near], utterances[far]):
                other = utterances[far]
                if other.speaker and other.speaker != neighbour.speaker and other.speaker not in utterance.addressees \
                        and self._fits_title(other.speaker, neighbour):
                    if step == -1 and self._named_next(utterances, number) == other.speaker and neighbour.speaker:
                        # A-B-?-A with the last A named by its own tag: the turn that doubles is B's.
                        return neighbour.speaker, 0.5
                    return other.speaker, 0.6 if step == -1 else 0.55
        return None, 0.0

    def _fits_title(self, name: str, neighbour: Utterance) -> bool:
        """A neighbouring quote that says "sir" or "madam" addresses a man or a woman."""
        match = _EN_TITLE_VOCATIVE.search(neighbour.text) if not self.zh else None
        if match is None or self.gender.get(name) not in ("M", "F"):
            return True
        return self.gender[name] == ("M" if match.group(1).lower() in ("sir", "monsieur", "my lord", "mister") else "F")

    def _named_next(self, utterances: list[Utterance], number: int) -> str | None:
        """The speaker of the next quote of the conversation when its own reporting clause names it."""
        if number + 1 < len(utterances) and self._same_conversation(utterances[number], utterances[number + 1]):
            following = utterances[number + 1]
            if following.method == "explicit" and following.confidence >= 0.85:
                return following.speaker
        return None

    def _fallback(self, utterances: list[Utterance]) -> None:
        """The most recently mentioned character that is neither the previous speaker nor addressed in the quote."""
        for number, utterance in enumerate(utterances):
            if utterance.speaker:
                continue
            before = utterances[number - 1] if number > 0 and self._same_conversation(utterance, utterances[number - 1]) else None
            previous = before.speaker if before is not None else None
            index = bisect.bisect_left(self.mention_starts, utterance.start) - 1
            seen = 0
            while index >= 0 and seen < 20:
                name = self.narration_mentions[index][1]
                if name != previous and name not in utterance.addressees and (before is None or self._fits_title(name, before)):
                    utterance.speaker, utterance.method, utterance.confidence = name, "implicit", 0.3
                    break
                index -= 1
                seen += 1
