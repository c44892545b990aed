"""A planted-PII test set, zh and en: sentences with known PII spans, and sentences with none.

Values are generated (seeded) in the shapes people type: spaced, dashed, bracketed, with country codes;
ID numbers carry valid check digits and card numbers valid Luhn digits. Negatives hold numbers that are
not PII (dates, times, prices, versions, order numbers, ISBNs) to measure precision.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from operators.privacy.detectors import luhn

TEMPLATES: dict[str, list[str]] = {
    "email": [
        "我的邮箱是{}，有事发邮件给我。", "简历请发到{}谢谢", "Email me at {} when you land.", "My address is {}, don't share it.",
        "联系方式：{}（工作日回复）", "Send the script to {} before Friday.",
    ],
    "phone": [
        "我的手机号是{}，有事打给我。", "电话{}，晚上十点以后别打。", "Call me at {} tonight.", "You can reach my office on {} after 9am.",
        "有急事就拨{}找我", "Her number is {} — text first.", "座机：{}", "My cell: {}.",
    ],
    "cn_id": ["我的身份证号是{}，帮我填一下表。", "身份证：{}", "ID number {} was on the form.", "登记信息 {} 已提交"],
    "card": ["卡号{}，密码别问了。", "Charge it to my card {} please.", "银行卡：{}", "The Visa ending in that number, {}, expired."],
    "url": ["看看这个链接{}好好笑", "More at {} if you care.", "我的主页：{}", "I posted it on {} yesterday."],
    "ip": ["服务器地址是{}，别乱连。", "My home IP is {}, weird right?", "登录记录显示来自{}", "Ping {} and tell me."],
    "handle": [
        "加我微信：{}", "我的QQ号{}，上线找我", "Follow me on Instagram: {}", "DM me on twitter {} anytime.", "关注我的微博{}", "My Discord is {}, add me.",
    ],
}
NEGATIVES = [
    "我们2024-05-01上午10:30在老地方见。", "这件衣服打折后只要¥1299.00。", "The meeting moved to 14:45 on 2023/11/07.",
    "He scored 98.5 points, version 3.2.1 of the rules.", "第1867页到第1934页都是注释。", "Population grew from 1,250,000 to 3,400,000.",
    "订单号20240501123456已发货。", "ISBN 978-7-02-000220-7 is the edition I have.", "The years 1867–1934 changed everything.",
    "房间号是1208，楼层12。", "Take 2 pills every 8 hours for 10 days.", "比分是3:2，第90分钟绝杀！", "Room 4521, building 7, floor 3.",
    "我今年25岁，身高168cm，体重52kg。", "He ran 10.5 km in 52:30.", "温度是-3.5度，明天升到12度。", "Chapter 12, verse 3-7.",
    "快递单号 SF1234567890123 明天到。", "The code word is alpha-7-tango.", "公元前232年到公元前202年。", "I owe you $45.99 for lunch.",
    "坐标是31.2304, 121.4737。", "Batch 2024-Q3-0017 passed QA.", "这道题的答案是3.14159。", "Call of Duty 4 came out in 2007.",
    "他们在12:30::那个时间点见面。", "我的学号是2021级3班。", "Flight CA1234 departs at 08:15.", "第十二回，共一百二十回。", "Model X-1000 costs 1000 dollars.",
    "My student number is 2021013456.", "Order 4155552671 shipped today.", "Update to v2.0.1.3 first.", "Tracking 9400111899223344556677 is late.",
    "The log says ts=1700000000000.", "学号2019301234，宿舍楼3号。", "The DOI is 10.1000/182 for that paper.", "比赛在2022年2月4日20:00开幕。",
    "She was born on 1990-12-31 in Hangzhou.", "音量调到75%，亮度50%。", "Call 911 or 110 if it happens again.", "Scores: 1234 5678 9012 points in total.",
]
_NAMES = ["li.wei", "zhang_san", "wangfang88", "j.smith", "emma.w", "chen.xiaoxia", "m.rossi", "kim_j", "xiao-ming", "anna.k"]
_DOMAINS = ["163.com", "qq.com", "gmail.com", "outlook.com", "sina.cn", "example.co.uk", "company.com.cn", "mail.ru", "foxmail.com"]
_REGIONS = ["110105", "310104", "440305", "510107", "330106", "420111", "610113", "120101", "320102", "500103"]
_FULL_WIDTH = str.maketrans("0123456789+-", "０１２３４５６７８９＋－")
_INTL = [("+1", 10), ("+44", 10), ("+81", 10), ("+49", 11), ("+33", 9), ("+61", 9), ("+852", 8), ("+886", 9)]


@dataclass(frozen=True)
class Planted:
    text: str
    kind: str | None
    start: int
    end: int


def _cn_mobile(rng: random.Random) -> str:
    number = rng.choice("3456789") + "".join(rng.choice("0123456789") for _ in range(9))
    digits = "1" + number
    form = rng.randrange(5)
    if form == 0:
        return digits
    if form == 1:
        return f"{digits[:3]} {digits[3:7]} {digits[7:]}"
    if form == 2:
        return f"{digits[:3]}-{digits[3:7]}-{digits[7:]}"
    if form == 3:
        return f"+86 {digits}"
    return f"+86-{digits[:3]}-{digits[3:7]}-{digits[7:]}"


def _cn_landline(rng: random.Random) -> str:
    area, local = rng.choice([("010", 8), ("021", 8), ("0755", 8), ("0571", 8), ("020", 8)])
    number = rng.choice("2345678") + "".join(rng.choice("0123456789") for _ in range(local - 1))
    return rng.choice([f"{area}-{number}", f"({area}) {number}", f"{area} {number[:4]} {number[4:]}"])


def _intl_phone(rng: random.Random) -> str:
    import phonenumbers

    while True:
        code, length = rng.choice(_INTL)
        national = str(rng.randrange(2, 10)) + "".join(rng.choice("0123456789") for _ in range(length - 1))
        parsed = phonenumbers.parse(code + national, None)
        if phonenumbers.is_valid_number(parsed):
            style = rng.choice([phonenumbers.PhoneNumberFormat.INTERNATIONAL, phonenumbers.PhoneNumberFormat.E164])
            return phonenumbers.format_number(parsed, style)


def _us_local(rng: random.Random) -> str:
    import phonenumbers

    while True:
        number = str(rng.randrange(2, 10)) + "".join(rng.choice("0123456789") for _ in range(2)) + str(rng.randrange(2, 10)) + "".join(rng.choice("0123456789") for _ in range(6))
        parsed = phonenumbers.parse(number, "US")
        if phonenumbers.is_valid_number(parsed):
            return rng.choice([f"({number[:3]}) {number[3:6]}-{number[6:]}", f"{number[:3]}-{number[3:6]}-{number[6:]}"])


def _cn_id(rng: random.Random) -> str:
    body = rng.choice(_REGIONS) + f"{rng.randrange(1950, 2010)}{rng.randrange(1, 13):02d}{rng.randrange(1, 29):02d}{rng.randrange(0, 1000):03d}"
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]


def _card(rng: random.Random) -> str:
    prefix, length = rng.choice([("4", 16), ("51", 16), ("55", 16), ("62", 16), ("62", 19), ("34", 15), ("37", 15)])
    body = prefix + "".join(rng.choice("0123456789") for _ in range(length - len(prefix) - 1))
    digits = next(body + d for d in "0123456789" if luhn(body + d))
    if rng.random() < 0.5 and length == 16:
        sep = rng.choice([" ", "-"])
        return sep.join(digits[i:i + 4] for i in range(0, 16, 4))
    return digits


def _value(kind: str, rng: random.Random) -> str:
    if kind == "email":
        return f"{rng.choice(_NAMES)}{rng.randrange(100)}@{rng.choice(_DOMAINS)}"
    if kind == "phone":
        if rng.random() < 0.1:
            return _cn_mobile(rng).translate(_FULL_WIDTH)  # full-width digits, as zh input methods type them
        return rng.choice([_cn_mobile, _cn_mobile, _cn_landline, _intl_phone, _us_local])(rng)
    if kind == "cn_id":
        return _cn_id(rng)
    if kind == "card":
        return _card(rng)
    if kind == "url":
        path = "".join(rng.choice("abcdefghijk0123456789") for _ in range(6))
        return rng.choice([f"https://weibo.com/u/{path}", f"http://www.example.org/p/{path}?ref=chat", f"www.bilibili.com/video/BV{path}", f"douban.com/people/{path}/"])
    if kind == "ip":
        if rng.random() < 0.2:
            return rng.choice(["2001:db8:85a3::8a2e:370:7334", "fe80::1ff:fe23:4567:890a", "2408:8207:2a10:5b40:1c2e:9d3f:aa01:17"])
        return ".".join(str(rng.randrange(1, 255)) for _ in range(4))
    name = rng.choice(_NAMES).replace(".", "_").replace("-", "_")
    return rng.choice([f"@{name}", f"wxid_{name}{rng.randrange(10, 99)}", f"{rng.randrange(10000000, 9999999999)}", f"{name}{rng.randrange(10, 999)}"])


def planted_set(seed: int = 20240501, per_template: int = 6) -> list[Planted]:
    """Every template filled `per_template` times, then the negatives (kind None)."""
    rng = random.Random(seed)
    items = []
    for kind, templates in TEMPLATES.items():
        for template in templates:
            for _ in range(per_template):
                value = _value(kind, rng)
                if kind == "handle" and value.isdigit() and "QQ" not in template:
                    value = "qq_" + value
                start = template.index("{}")
                items.append(Planted(template.format(value), kind, start, start + len(value)))
    items += [Planted(text, None, 0, 0) for text in NEGATIVES]
    return items
