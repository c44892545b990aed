"""The character's category (celebrity | daily_life | fictional | other) from tags or, failing that, the profile text.

Rule-based and bilingual (zh + en): each category has weighted cues; the best-scoring category wins when
its score reaches `MIN_SCORE` and beats the runner-up, else the answer is None (the caller says `other`).
An LLM classifier can replace this later; the rules keep imports free and deterministic.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

# Tags as used by Character Card sites, PIPPA (Character.AI categories) and Chinese role-play apps.
TAGS: dict[str, str] = {
    **dict.fromkeys(
        ["celebrity", "celebrities", "famous people", "real person", "real people", "historical", "historical figure", "history",
         "politics", "politician", "idol", "k-pop", "kpop", "singer", "actor", "actress", "athlete", "sports", "youtuber",
         "名人", "明星", "历史", "历史人物", "偶像", "歌手", "演员", "运动员", "真人"],
        "celebrity",
    ),
    **dict.fromkeys(
        ["fictional", "fiction", "anime", "manga", "game", "games", "game characters", "video games", "video game", "movies & tv",
         "movies", "tv", "books", "book", "novel", "fantasy", "sci-fi", "science fiction", "cartoon", "comics", "superhero",
         "original character", "oc", "monster", "monster girl", "fandom", "vtuber", "mythology",
         "动漫", "二次元", "游戏", "小说", "影视", "虚构", "武侠", "仙侠", "玄幻", "奇幻", "科幻", "古风", "神话", "原创角色"],
        "fictional",
    ),
    **dict.fromkeys(
        ["slice of life", "daily life", "everyday", "roommate", "boyfriend", "girlfriend", "friend", "coworker", "classmate",
         "neighbor", "teacher", "school", "office", "family",
         "日常", "生活", "校园", "都市", "室友", "男友", "女友", "同学", "同事", "邻居", "青梅竹马", "家人"],
        "daily_life",
    ),
}

# (pattern, weight): case-insensitive; zh cues are words, en cues are matched on word boundaries.
_CUES: dict[str, list[tuple[str, float]]] = {
    "celebrity": [
        (r"出生于|生于\d|\d{4}年\d{1,2}月\d{1,2}日出生|公元前?\d+年", 2.0),
        (r"(男|女)?歌手|演员|明星|偶像|组合成员|演唱组合|出道|专辑|运动员|奥运|冠军|导演|主持人", 1.5),
        (r"历史上|朝代|皇帝|霸王|诗人|政治家|科学家|哲学家|将军(?!令)|总统|王朝", 1.5),
        (r"\bborn (on|in)\b|\(\s*(c\.\s*)?\d{3,4}\s*[–-]\s*\d{3,4}\s*\)|\b\d{4}\s*[–-]\s*\d{4}\b", 2.0),
        (r"\b(singer|actor|actress|rapper|musician|band member|idol|athlete|olympic|champion|director|politician|president|emperor|empress|king of|queen of)\b", 1.5),
        (r"\b(historical|in history|dynasty|scientist|philosopher|poet|composer|inventor|real[- ]life|famous)\b", 1.5),
    ],
    "fictional": [
        (r"《[^》]+》", 2.0),
        (r"作品|小说|动漫|漫画|游戏|剧中|主角|男主|女主|番剧|系列", 1.5),
        (r"妖|仙|魔|神(?!经)|狐|龙|精灵|吸血鬼|灵力|法术|修仙|修炼|门派|师兄|师弟|师姐|师妹|弟子|江湖|武功|武林|族长|长公主|王爷|皇子|大荒|血脉|千年", 1.0),
        (r"\b(character from|protagonist|anime|manga|novel|video game|fictional|the series|franchise|fandom)\b", 1.5),
        (r"\b(wizard|witch|magic|magical|sorcer\w*|dragon|elf|elven|demon|vampire|werewolf|kingdom|spaceship|starship|mage|knight|goddess|deity|immortal|fairy)\b", 1.0),
    ],
    "daily_life": [
        (r"同学|室友|同事|邻居|青梅竹马|男朋友|女朋友|男友|女友|老公|老婆|哥哥|妹妹|姐姐|弟弟|班主任|班级|上班|公司|职员|孤儿院", 1.0),
        (r"医生|护士|老师|学生|大学|高中|初中|成绩|补习|咖啡|外卖|加班|工程师|程序员|店员", 1.0),
        (r"\b(roommate|classmate|coworker|co-worker|colleague|neighbou?r|boyfriend|girlfriend|husband|wife|best friend|childhood friend)\b", 1.0),
        (r"\b(college student|high school|student|teacher|nurse|doctor|barista|coffee shop|caf[eé]|office worker|engineer|programmer|cashier|waiter|waitress)\b", 1.0),
    ],
}
_COMPILED = {category: [(re.compile(p, re.IGNORECASE), w) for p, w in cues] for category, cues in _CUES.items()}
MIN_SCORE = 1.5


def classify_tags(tags: Iterable[str]) -> str | None:
    """The category most of the known tags point to (ties: fictional, celebrity, daily_life), or None."""
    votes: dict[str, int] = {}
    for tag in tags:
        category = TAGS.get(" ".join(str(tag).casefold().split()))
        if category:
            votes[category] = votes.get(category, 0) + 1
    if not votes:
        return None
    order = ("fictional", "celebrity", "daily_life")
    return max(votes, key=lambda c: (votes[c], -order.index(c)))


def scores(text: str) -> dict[str, float]:
    """Score per category: each cue's weight times its number of matches, capped at 3 matches per cue."""
    return {category: sum(w * min(len(p.findall(text)), 3) for p, w in cues) for category, cues in _COMPILED.items()}


@lru_cache(maxsize=4096)  # logs repeat one character's profile in session after session
def classify_profile(text: str) -> str | None:
    """The category the profile's cues point to, or None when they are too weak or tied."""
    if not text.strip():
        return None
    ranked = sorted(scores(text).items(), key=lambda item: item[1], reverse=True)
    (best, top), (_, second) = ranked[0], ranked[1]
    if top < MIN_SCORE or top == second:
        return None
    return best
