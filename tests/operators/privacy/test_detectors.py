"""PII detectors on the planted zh + en test set: recall >= 0.95, precision reported (and bounded)."""

from __future__ import annotations

import pytest

from operators.privacy.detectors import find_pii, luhn, redact, valid_cn_id
from tests.operators.privacy.planted import planted_set


def measure() -> tuple[float, float, dict[str, float]]:
    """(recall, precision, recall per type) of find_pii on the planted set."""
    items = planted_set()
    found_right = {kind: [0, 0] for kind in {i.kind for i in items if i.kind}}
    true_positive = false_positive = 0
    for item in items:
        matches = find_pii(item.text)
        if item.kind:
            found_right[item.kind][1] += 1
            found_right[item.kind][0] += any(m.kind == item.kind and m.start <= item.start and m.end >= item.end for m in matches)
        for match in matches:
            if item.kind == match.kind and match.start < item.end and match.end > item.start:
                true_positive += 1
            else:
                false_positive += 1
    hits = sum(h for h, _ in found_right.values())
    total = sum(t for _, t in found_right.values())
    return hits / total, true_positive / (true_positive + false_positive), {k: h / t for k, (h, t) in found_right.items()}


def test_planted_set_recall_and_precision() -> None:
    items = planted_set()
    assert sum(1 for i in items if i.kind) >= 200 and sum(1 for i in items if not i.kind) >= 40
    assert {i.kind for i in items if i.kind} == {"email", "phone", "cn_id", "card", "url", "ip", "handle"}
    recall, precision, per_type = measure()
    print(f"planted PII: recall {recall:.3f}, precision {precision:.3f}, per type {per_type}")
    assert recall >= 0.95
    assert min(per_type.values()) >= 0.9
    assert precision >= 0.9


def test_checksums() -> None:
    assert valid_cn_id("11010519491231002X") and not valid_cn_id("110105194912310021")
    assert luhn("4111111111111111") and not luhn("4111111111111112")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("电话１３８１２３４５６７８，谢谢", "电话<PHONE>，谢谢"),
        ("身份证110105194912310021不对", "身份证110105194912310021不对"),
        ("卡号4111 1111 1111 1112错了", "卡号4111 1111 1111 1112错了"),
        ("链接https://x.com/abc，好好笑", "链接<URL>，好好笑"),
        ("Update to v2.0.1.3, order 4155552671, at 10:30:00 on 2024-05-01.", "Update to v2.0.1.3, order 4155552671, at 10:30:00 on 2024-05-01."),
        ("加我vx：abc_12345 或 @小红书用户", "加我vx：<HANDLE> 或 <HANDLE>"),
    ],
)
def test_redaction_keeps_the_sentence(text: str, expected: str) -> None:
    assert redact(text)[0] == expected


@pytest.mark.shared_data
def test_novels_hold_almost_no_pii(shared_data) -> None:
    """Precision on natural zh + en prose (novels hold no e-mails, phones or handles): at most 2 hits per million characters."""
    files = sorted((shared_data / "pdnc").glob("*/novel_text.txt"))[:5] + [shared_data / "wp" / "dev_unsplit.txt"]
    chars = hits = 0
    for file in files:
        for paragraph in file.read_text(encoding="utf-8", errors="replace").split("\n"):
            chars += len(paragraph)
            hits += len(find_pii(paragraph))
    print(f"{hits} detections in {chars / 1e6:.2f} M characters of novels")
    assert chars > 1_000_000 and hits <= 2 * chars / 1e6
