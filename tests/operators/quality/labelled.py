"""A labelled fixture for the quality classifier: dialogues whose 1-5 labels follow how they are written.

Each dialogue has a latent quality q; its character turns mix in-character, engaged lines (a share of
(q-1)/4) with flat, assistant-like or repeated lines (more the lower q). Labels are q with noise
(one label in five is off by one), and q is skewed towards 3 so the majority class is a real baseline.
Half the dialogues are Chinese, half English; every character speaks in several dialogues.
"""

from __future__ import annotations

import random

import pyarrow as pa

from schemas import DIALOGUE_SCHEMA
from schemas.arrow import to_arrow_row
from schemas.records import Dialogue

GOOD = {
    "en": [
        "Ha! You caught me mid-sentence, {user}. Tell me, what brings you to the harbour tonight?",
        "I remember the winter the river froze; my brother and I skated to the mill. Have you ever seen ice sing?",
        "Don't rush me, I'm savouring this. {phrase} Now, what would you have done in my place?",
        "Oh, that stings a little, but you're right. What made you notice?",
        "Come closer, the fire's warm. I'll tell you the part nobody else knows.",
        "{phrase} You always ask the questions I was hoping nobody would ask.",
        "Funny you mention that: I was sketching the old lighthouse this morning. Do you paint?",
    ],
    "zh": [
        "哈，{user}，你来得正好！今晚码头的风可真大，你怎么有空过来？",
        "我记得那年冬天河面结了冰，我和弟弟一路滑到磨坊。你见过冰会唱歌吗？",
        "别催我嘛，我正享受这一刻呢。{phrase}换作是你，你会怎么做？",
        "哎，这话有点扎心，不过你说得对。你是怎么看出来的？",
        "过来坐，火堆正暖和。我给你讲一段别人都不知道的事。",
        "{phrase}你总是问那些我最怕被问到的问题。",
        "说来也巧，我今早还在画那座老灯塔呢。你也喜欢画画吗？",
    ],
}
BAD = {
    "en": [
        "As an AI language model, I cannot have personal experiences.",
        "OK.",
        "I am here to help. Is there anything else I can assist you with?",
        "Yes. Yes. Yes.",
        "I do not know.",
        "Sure, here is a list of tips: 1. Be kind. 2. Be helpful.",
    ],
    "zh": [
        "作为一个人工智能助手，我没有个人经历。",
        "好的。",
        "我很乐意为您提供帮助，请问还有什么可以帮您？",
        "是的。是的。是的。",
        "我不知道。",
        "以下是一些建议：1. 保持友善。2. 乐于助人。",
    ],
}
USER = {
    "en": ["Hi there.", "What are you doing?", "Tell me about your day.", "Why do you say that?", "Really?", "And then?"],
    "zh": ["你好呀。", "你在做什么？", "跟我讲讲你今天过得怎么样。", "为什么这么说？", "真的吗？", "然后呢？"],
}
PHRASE = {"en": "Well, well, well!", "zh": "哎呀呀！"}
NAMES = {"en": ["Mara", "Theo", "Ivy", "Jonah", "Lena", "Oskar", "Ruth", "Silas"], "zh": ["林晓", "陈默", "苏晴", "王磊", "赵雪", "周航", "吴桐", "许诺"]}
LEVELS = [1, 2, 3, 3, 3, 4, 5]


def labelled_rows(count: int, seed: int = 0, characters_per_language: int = 30) -> list[dict]:
    """`count` dialogue rows (Arrow form) with `quality.overall`, `human_likeness` and `engagement` labels."""
    rng = random.Random(seed)
    rows = []
    for index in range(count):
        language = "zh" if index % 2 else "en"
        k = rng.randrange(characters_per_language)
        name = f"{NAMES[language][k % len(NAMES[language])]}{k // len(NAMES[language]) or ''}"
        q = rng.choice(LEVELS)
        turns = []
        exchanges = rng.randint(3, 5)
        good_turns = set(rng.sample(range(exchanges), round((q - 1) / 4 * exchanges)))
        for step in range(exchanges):
            turns.append({"role": "user", "speaker": "User", "text": rng.choice(USER[language])})
            good = step in good_turns
            line = rng.choice(GOOD[language] if good else BAD[language]).format(user="friend" if language == "en" else "朋友", phrase=PHRASE[language])
            turns.append({"role": "character", "speaker": name, "text": line})
        label = min(5, max(1, q + (rng.choice([-1, 1]) if rng.random() < 0.2 else 0)))
        dialogue = Dialogue(
            dialogue_id=f"d_{seed}_{index:05d}",
            character_id=f"c_{language}_{name}",
            character={"name": name, "category": "fictional", "styles": {"catchphrases": [PHRASE[language]]}, "profile_text": f"{name} keeps the lighthouse."},
            scenario="chit_chat",
            language=language,
            turns=turns,
            source="human_prototype",
            quality={"overall": float(label), "human_likeness": float(label), "engagement": float(max(1, label - 1)), "scorer": "human:hpi"},
        )
        rows.append(to_arrow_row(dialogue))
    return rows


def labelled_table(count: int, seed: int = 0) -> pa.Table:
    """The fixture as a dialogue table (the corpus schema)."""
    return pa.Table.from_pylist(labelled_rows(count, seed), schema=DIALOGUE_SCHEMA)
