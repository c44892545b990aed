"""Speech verbs and nouns (English, Chinese) shared by quote grouping and speaker attribution."""

from __future__ import annotations

EN_SPEECH_VERBS = (
    "said say says saying asked asks replied replies cried cries answered answers exclaimed whispered added continued returned "
    "observed remarked began begun called shouted murmured repeated rejoined retorted interrupted muttered responded demanded "
    "inquired enquired suggested declared explained insisted agreed protested pleaded urged resumed persisted pursued admitted "
    "screamed yelled growled groaned sobbed stammered faltered told panted gasped laughed sighed concluded ventured echoed drawled "
    "snapped thought went put broke called argued interjected spoke speaks burst blurted chimed bawled barked howled bellowed wailed "
    "questioned queried reiterated volunteered confessed conceded cautioned teased joked mocked vowed swore boasted croaked rasped "
    "soothed scolded chided remonstrated expostulated ejaculated apologised apologized acquiesced affirmed asserted finished stated hinted "
    "objected assented announced corrected hissed roared shrieked moaned whimpered "
    "mumbled breathed chuckled giggled sneered snorted grumbled complained commented noted mused wondered warned ordered commanded "
    "begged implored entreated proceeded interposed struck exclaims smiled nodded"
).split()
ZH_SPEECH_VERBS = (
    "说 道 问 答 喊 叫 嚷 骂 吼 叹 讲 告诉 插嘴 解释 补充 回答 回应 追问 反问 质问 嘟囔 嘀咕 念叨 喃喃 吩咐 命令 央求 哀求 劝 "
    "笑道 笑着 大叫 大喊 叫道 喊道 叫起来 开口 接口 接着 应道 应了 唤 招呼 重复 抱怨 感叹 安慰 说道 问道 答道 发话 打断"
).split()
# "was Joe's reply", "was the remark of ...": nouns that report speech.
EN_SPEECH_NOUNS = frozenset("reply remark answer observation question exclamation response comment retort rejoinder words cry greeting".split())
