"""PII detectors for zh and en text: regex candidates, then validation (checksums, Luhn, phone metadata).

Each detector finds spans of one type; `find_pii` resolves overlaps by priority (e-mail before URL
before ID number before card before IP before phone before handle) and `redact` replaces each span by
its typed placeholder (`<EMAIL>`, `<PHONE>`, ...), so a dialogue stays fluent.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

PLACEHOLDERS: dict[str, str] = {
    "email": "<EMAIL>",
    "url": "<URL>",
    "cn_id": "<ID_NUMBER>",
    "card": "<CARD_NUMBER>",
    "ip": "<IP>",
    "phone": "<PHONE>",
    "handle": "<HANDLE>",
}
PII_TYPES: tuple[str, ...] = tuple(PLACEHOLDERS)


@dataclass(frozen=True)
class Match:
    start: int
    end: int
    kind: str
    strong: bool = False  # a platform label ("微信：", "Instagram:") vouches for it: it wins over a phone-shaped number


_EMAIL = re.compile(r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9][A-Za-z0-9._%+\-]*@[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,24}(?![A-Za-z0-9\-])")
_TLDS = "com|cn|net|org|io|me|co|info|xyz|top|edu|gov|tv|cc|uk|de|jp|us|ly|gg|app|dev|site|online|shop"
_URL_CHARS = r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]"
_URL = re.compile(
    r"(?:(?:https?|ftp)://|www\.)" + _URL_CHARS + r"+"
    r"|(?<![A-Za-z0-9@.\-])(?:[A-Za-z0-9\-]+\.)+(?:" + _TLDS + r")(?![A-Za-z0-9\-])(?:/" + _URL_CHARS + r"*)?",
    re.IGNORECASE,
)
_CN_ID = re.compile(r"(?<![0-9A-Za-z])[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx](?![0-9A-Za-z])")
# Card numbers as printed: unbroken, 4-4-4-4(-3), or Amex 4-6-5, with one kind of separator.
_CARD = re.compile(r"(?<![\d\-+_])(?:\d{13,19}|\d{4}([ \-])\d{4}\1\d{4}\1\d{1,4}(?:\1\d{1,3})?|\d{4}([ \-])\d{6}\2\d{5})(?![\d\-])")
_IPV4 = re.compile(r"(?<![\d.A-Za-z])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?![\d.]|\.\d)")
_IPV6 = re.compile(r"(?<![0-9A-Fa-f:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![0-9A-Fa-f:])")
_PHONE = re.compile(r"(?<![\dA-Za-z_+(])(?:\+|00)?\(?\d(?:[ \-.]?\(?\d{1,4}\)?){2,7}(?![\d])")
_DATE = re.compile(r"^(?:\d{4}[\-./]\d{1,2}[\-./]\d{1,2}|\d{1,2}[\-./]\d{1,2}[\-./]\d{4})")
_CN_MOBILE = re.compile(r"^(?:\+?86|0086)?1[3-9]\d{9}$")
_HANDLE_AT = re.compile(r"(?<![A-Za-z0-9_@.])@[A-Za-z0-9_\u4e00-\u9fff][A-Za-z0-9_.\-\u4e00-\u9fff]{1,29}")
_HANDLE_LABELLED = re.compile(
    r"(?:(?P<latin>(?<![A-Za-z])(?:instagram|twitter|telegram|discord|snapchat|tiktok|wechat|weixin|line\s?id|ins|ig|tg|vx|wx)(?![A-Za-z]))"
    r"|微信号?|QQ号?|抖音号?|小红书号?|微博号?|B站)"
    r"\s*(?:号码|账号|ID|id)?\s*(?P<sep>is\b|是|为|[:：])?\s*(?P<value>[A-Za-z0-9_][A-Za-z0-9_.\-]{3,28}[A-Za-z0-9_])",
    re.IGNORECASE,
)
_WXID = re.compile(r"(?<![A-Za-z0-9_])wxid_[A-Za-z0-9_\-]{4,30}")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def valid_cn_id(number: str) -> bool:
    """ISO 7064 MOD 11-2 check digit of an 18-character mainland China resident ID."""
    total = sum(int(d) * w for d, w in zip(number[:17], _ID_WEIGHTS, strict=True))
    return "10X98765432"[total % 11] == number[17].upper()


def luhn(digits: str) -> bool:
    """The Luhn checksum of a payment card number."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _emails(text: str) -> Iterator[Match]:
    for m in _EMAIL.finditer(text):
        yield Match(m.start(), m.end(), "email")


def _urls(text: str) -> Iterator[Match]:
    for m in _URL.finditer(text):
        end = m.end()
        while end > m.start() and text[end - 1] in ".,;:!?)]}'\"":
            end -= 1
        yield Match(m.start(), end, "url")


def _cn_ids(text: str) -> Iterator[Match]:
    for m in _CN_ID.finditer(text):
        if valid_cn_id(m.group()):
            yield Match(m.start(), m.end(), "cn_id")


def _cards(text: str) -> Iterator[Match]:
    for m in _CARD.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        if 13 <= len(digits) <= 19 and luhn(digits) and len(set(digits)) > 1:
            yield Match(m.start(), m.end(), "card")


def _ips(text: str) -> Iterator[Match]:
    for m in _IPV4.finditer(text):
        yield Match(m.start(), m.end(), "ip")
    for m in _IPV6.finditer(text):
        candidate = m.group()
        if "::" not in candidate and candidate.count(":") < 5:
            continue  # times like 10:23:00 are not addresses
        try:
            ipaddress.IPv6Address(candidate)
        except ValueError:
            continue
        groups = [g for g in candidate.split(":") if g]
        # "12:30::" parses as IPv6 too: ask for a real address's shape
        if candidate.count(":") >= 5 or any(len(g) == 4 for g in groups):
            yield Match(m.start(), m.end(), "ip")


def _phones(text: str) -> Iterator[Match]:
    import phonenumbers

    for m in _PHONE.finditer(text):
        raw = m.group()
        digits = re.sub(r"\D", "", raw)
        if not 7 <= len(digits) <= 15:
            continue
        if _CN_MOBILE.match(("+" if raw.startswith("+") else "") + digits):
            yield Match(m.start(), m.end(), "phone")
            continue
        if _DATE.match(raw):
            continue
        if raw.startswith(("+", "00")):
            number, region = "+" + digits[2:] if raw.startswith("00") else raw, None
        elif digits.startswith("0") and 10 <= len(digits) <= 12:
            number, region = raw, "CN"  # a mainland landline written with its area code
        elif re.search(r"[\s\-.()]", raw) and (len(digits) == 10 or (len(digits) == 11 and digits.startswith("1"))):
            number, region = raw, "US"  # a formatted local number; a bare digit run is more often an order or student number
        else:
            continue
        try:
            parsed = phonenumbers.parse(number, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(parsed):
            yield Match(m.start(), m.end(), "phone")


def _handles(text: str) -> Iterator[Match]:
    for m in _HANDLE_AT.finditer(text):
        yield Match(m.start(), m.end(), "handle")
    for m in _HANDLE_LABELLED.finditer(text):
        # "sent a telegram warning": after an English label with no ':' or 'is', only a handle-looking
        # value (with a digit, '_' or '.') counts
        if m.group("latin") and not m.group("sep") and not re.search(r"[\d_.]", m.group("value")):
            continue
        yield Match(m.start("value"), m.end("value"), "handle", strong=True)
    for m in _WXID.finditer(text):
        yield Match(m.start(), m.end(), "handle", strong=True)


DETECTORS: dict[str, Callable[[str], Iterator[Match]]] = {
    "email": _emails,
    "url": _urls,
    "cn_id": _cn_ids,
    "card": _cards,
    "ip": _ips,
    "phone": _phones,
    "handle": _handles,
}


_SEVEN_DIGITS = re.compile(r"\d(?:\D{0,3}\d){6}")  # a phone number has at least 7 digits, perhaps spaced
_DIGITS4 = re.compile(r"\d{4}")
_DIGIT = re.compile(r"\d")
# Cheap tests that rule a detector out before its regexes run (most turns hold no PII at all).
GATES: dict[str, Callable[[str], object]] = {
    "email": lambda t: "@" in t,
    "url": lambda t: "." in t,
    "cn_id": _DIGITS4.search,
    "card": _DIGITS4.search,
    "ip": lambda t: ("." in t or ":" in t) and _DIGIT.search(t),
    "phone": _SEVEN_DIGITS.search,
    "handle": lambda t: True,
}

# Full-width ASCII (as zh input methods type digits, '+', '@') folded one character for one, so spans
# found in the folded text are spans of the original.
_FOLD = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}


def find_pii(text: str, kinds: tuple[str, ...] = PII_TYPES) -> list[Match]:
    """Non-overlapping PII spans in text order; where spans overlap, the higher-priority type wins."""
    folded = text.translate(_FOLD)
    candidates = [match for kind in kinds if GATES[kind](folded) for match in DETECTORS[kind](folded)]
    priority = {kind: index for index, kind in enumerate(PII_TYPES)}
    candidates.sort(key=lambda m: (priority["ip"] if m.strong else priority[m.kind], m.start, -(m.end - m.start)))
    taken: list[Match] = []
    for match in candidates:
        if all(match.end <= other.start or match.start >= other.end for other in taken):
            taken.append(match)
    return sorted(taken, key=lambda m: m.start)


def redact(text: str, kinds: tuple[str, ...] = PII_TYPES) -> tuple[str, dict[str, int]]:
    """Text with every PII span replaced by its placeholder, and the count per type."""
    matches = find_pii(text, kinds)
    if not matches:
        return text, {}
    pieces, counts, cursor = [], {}, 0
    for match in matches:
        pieces.append(text[cursor:match.start])
        pieces.append(PLACEHOLDERS[match.kind])
        counts[match.kind] = counts.get(match.kind, 0) + 1
        cursor = match.end
    pieces.append(text[cursor:])
    return "".join(pieces), counts
