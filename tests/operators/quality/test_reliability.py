"""Judge reliability: test-retest and two-judge agreement, measured against loopback judges."""

from __future__ import annotations

import json
import random

import numpy as np
import pyarrow as pa

from operators.columns import conform
from operators.quality.reliability import judge_reliability, reliability
from schemas import DIALOGUE_SCHEMA
from tests.llm_server import LLMServer, Reply
from tests.operators.quality.labelled import labelled_rows
from tests.synthesis_author import llm_settings

DIMS = ("consistency", "human_likeness", "engagement", "quality", "safety", "correctness", "overall")


def test_reliability_measures() -> None:
    first = {f"d{i}": {"overall": float(1 + i % 5)} for i in range(20)}
    assert reliability(first, first)["overall"] == {"n": 20, "spearman": 1.0, "weighted_kappa": 1.0, "exact": 1.0, "within_1": 1.0, "mean_abs_diff": 0.0}
    shifted = {k: {"overall": min(5.0, v["overall"] + 1)} for k, v in first.items()}
    result = reliability(first, shifted)["overall"]
    assert result["within_1"] == 1.0 and result["exact"] == 0.2 and 0 < result["weighted_kappa"] < 1
    assert reliability(first, {"d0": {"overall": 1.0}}) == {}


def noisy_judge(noise: float):
    """A loopback judge: the score follows how assistant-like the transcript is, plus seed-dependent noise."""

    def respond(body):
        prompt = body["messages"][1]["content"]
        bad = sum(prompt.count(marker) for marker in ("As an AI", "作为一个人工智能", "OK.", "好的。", "I do not know", "我不知道"))
        rng = random.Random(f"{body['seed']}:{prompt}")
        base = max(1, 5 - bad)
        value = int(np.clip(round(base + (rng.uniform(-noise, noise))), 1, 5))
        return Reply(content=json.dumps({"rationale": "r", **dict.fromkeys(DIMS, value)}))

    return respond


def test_test_retest_inter_judge_and_human_agreement(tmp_path) -> None:
    table = conform(pa.Table.from_pylist(labelled_rows(40, seed=11), schema=DIALOGUE_SCHEMA))
    with LLMServer(noisy_judge(0.0)) as steady, LLMServer(noisy_judge(1.4)) as shaky:
        first = {"llm": {**llm_settings(steady, tmp_path / "a"), "temperature": 0}}
        second = {"llm": {**llm_settings(shaky, tmp_path / "b"), "temperature": 0}}
        report = judge_reliability(table, first, second)
        shaky_retest = judge_reliability(table, second)["test_retest"]["overall"]
        requests = len(steady.completions())
    assert report["dialogues"] == 40 and report["scored"] == [40, 40] and requests == 80  # two seeds, no cache hits across them
    assert report["test_retest"]["overall"]["exact"] == 1.0  # a deterministic judge agrees with itself
    assert shaky_retest["exact"] < 1.0
    assert report["inter_judge"]["overall"]["n"] == 40 and report["inter_judge"]["overall"]["exact"] < 1.0
    assert report["judge_vs_human"]["overall"]["spearman"] > 0.3
