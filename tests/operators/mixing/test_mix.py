"""mix: raking to target shares, quality-first down-sampling, repeats without copies, reports, real runs."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from operators.columns import REJECT_DETAIL, REJECT_REASON, conform
from operators.mixing.mix import Mix, MixConfig, rake
from pipelines.execute import run_pipeline
from pipelines.spec import pipeline_from_dict
from schemas import DIALOGUE_SCHEMA
from schemas.arrow import from_arrow_map
from tests.operators.ingest.harness import write_jsonl
from tests.operators.quality.labelled import labelled_rows


def corpus(zh: int, en: int) -> pa.Table:
    """zh and en dialogues with quality labels; every third row comes from synthesis."""
    rows = labelled_rows(2 * max(zh, en) + 2, seed=5)
    chosen = [r for r in rows if r["language"] == "zh"][:zh] + [r for r in rows if r["language"] == "en"][:en]
    for index, row in enumerate(chosen):
        row["source"] = "synthesis" if index % 3 == 0 else "human_prototype"
    return conform(pa.Table.from_pylist(chosen, schema=DIALOGUE_SCHEMA))


def kept_rows(out: pa.Table) -> list[dict]:
    return [r for r in out.to_pylist() if r[REJECT_REASON] is None]


def test_rake_meets_marginals_and_keeps_the_natural_mix_elsewhere() -> None:
    counts = {json.dumps(["zh", "a"]): 200, json.dumps(["zh", "b"]): 100, json.dumps(["en", "a"]): 50, json.dumps(["en", "b"]): 50}
    shares, notes = rake(counts, ["language", "source"], {"language": {"zh": 0.5, "en": 0.5}})
    assert not notes
    assert shares[json.dumps(["zh", "a"])] == pytest.approx(1 / 3) and shares[json.dumps(["zh", "b"])] == pytest.approx(1 / 6)
    assert shares[json.dumps(["en", "a"])] == pytest.approx(0.25)
    shares, notes = rake(counts, ["language", "source"], {"language": {"zh": 0.6, "fr": 0.2}})
    assert notes == ["language: no rows for ['fr']; their share goes to the values not listed, or is spread over the listed ones when none is left"]
    assert shares[json.dumps(["zh", "a"])] + shares[json.dumps(["zh", "b"])] == pytest.approx(0.6)
    shares, _ = rake(counts, ["language", "source"], {"language": {"zh": 0.6, "en": 0.2, "fr": 0.2}})
    assert shares[json.dumps(["zh", "a"])] + shares[json.dumps(["zh", "b"])] == pytest.approx(0.75)


def test_down_samples_the_over_represented_keeping_the_best() -> None:
    table = corpus(zh=120, en=40)
    out = Mix(MixConfig(by=["language"], targets={"language": {"zh": 0.5, "en": 0.5}}))(table)
    assert out.num_rows == table.num_rows
    kept = kept_rows(out)
    assert Counter(r["language"] for r in kept) == {"zh": 40, "en": 40}
    zh = sorted((r["quality"]["overall"] for r in table.to_pylist() if r["language"] == "zh"), reverse=True)
    assert sorted((r["quality"]["overall"] for r in kept if r["language"] == "zh"), reverse=True) == zh[:40]
    rejected = [r for r in out.to_pylist() if r[REJECT_REASON] is not None]
    assert len(rejected) == 80 and {r[REJECT_REASON] for r in rejected} == {"mix"}
    assert all(r[REJECT_DETAIL].startswith('cell ["zh"]: kept 40 of 120 toward share 0.5000') for r in rejected)
    assert all(from_arrow_map(r["meta"]).get("mix.repeat") is None for r in kept)


def test_deterministic_for_a_seed_and_random_preference_differs_by_seed() -> None:
    table = corpus(zh=90, en=30)
    config = {"by": ["language"], "targets": {"language": {"zh": 0.5, "en": 0.5}}, "prefer": "random"}
    first = [r["dialogue_id"] for r in kept_rows(Mix(MixConfig(**config, seed=1))(table))]
    assert first == [r["dialogue_id"] for r in kept_rows(Mix(MixConfig(**config, seed=1))(table))]
    reordered = table.take(list(reversed(range(table.num_rows))))
    assert sorted(first) == sorted(r["dialogue_id"] for r in kept_rows(Mix(MixConfig(**config, seed=1))(reordered)))
    assert sorted(first) != sorted(r["dialogue_id"] for r in kept_rows(Mix(MixConfig(**config, seed=2))(table)))


def test_total_caps_and_repeats_mark_rows_without_copying() -> None:
    table = corpus(zh=60, en=20)
    capped = kept_rows(Mix(MixConfig(by=["language"], targets={"language": {"zh": 0.5, "en": 0.5}}, total=30))(table))
    assert Counter(r["language"] for r in capped) == {"zh": 15, "en": 15}
    out = Mix(MixConfig(by=["language"], targets={"language": {"zh": 0.5, "en": 0.5}}, allow_repeat=True))(table)
    kept = kept_rows(out)
    assert out.num_rows == 80 and Counter(r["language"] for r in kept) == {"zh": 40, "en": 20}
    repeats = Counter(from_arrow_map(r["meta"]).get("mix.repeat") for r in kept if r["language"] == "en")
    assert repeats == {"2": 20}


def test_unlisted_values_share_the_remainder_and_config_errors() -> None:
    table = corpus(zh=60, en=60)
    kept = kept_rows(Mix(MixConfig(by=["language", "source"], targets={"source": {"synthesis": 0.2}}))(table))
    share = Counter(r["source"] for r in kept)
    assert share["synthesis"] / len(kept) == pytest.approx(0.2, abs=0.02)
    with pytest.raises(ValueError, match="not a dimension mixed by"):
        MixConfig(by=["language"], targets={"source": {"synthesis": 1.0}})
    with pytest.raises(ValueError, match="sum to at most 1"):
        MixConfig(targets={"language": {"zh": 0.7, "en": 0.7}})


def _sessions() -> list[dict]:
    sessions = []
    for index in range(48):
        language = "zh" if index % 4 else "en"
        text = "你好呀，今天过得怎么样？" if language == "zh" else "Hello! How was your day?"
        sessions.append(
            {"id": f"s{index}", "model": "proto", "character": {"name": f"角色{index % 6}", "category": "fictional" if index % 2 else "daily_life"},
             "scenario": "chit_chat", "language": language, "rating_scale": [1, 5],
             "turns": [{"role": "user", "text": f"#{index}"}, {"role": "character", "text": f"{text} ({index})", "rating": 1 + index % 5}]}
        )
    return sessions


def test_pipeline_reports_achieved_shares_balances_and_ray_matches_inprocess(ray_cluster, tmp_path: Path) -> None:
    logs = write_jsonl(tmp_path / "hpi.jsonl", _sessions())
    spec = {
        "name": "mixed",
        "sources": [{"op": "read.hpi", "paths": [str(logs)]}],
        "operators": [{"op": "mix", "by": ["language", "category"], "targets": {"language": {"zh": 0.5, "en": 0.5}}}],
        "execution": {"rows_per_block": 7},
    }
    selections = []
    for executor in ("ray", "inprocess"):
        out = tmp_path / executor
        manifest = run_pipeline(pipeline_from_dict(spec, "mixed.yaml", tmp_path), out, executor=executor, log=lambda _: None, report=False)
        assert manifest.ledger.balanced and manifest.ledger.input == 48
        mix_step = next(o for o in manifest.ledger.operators if o.operator == "mix")
        assert mix_step.by_reason == {"mix": 24}
        corpus_rows = pq.read_table(out / "corpus").to_pylist()
        assert Counter(r["language"] for r in corpus_rows) == {"zh": 12, "en": 12}
        report = pq.read_table(out / "mix").to_pylist()
        assert sum(r["kept"] for r in report) == 24 and sum(r["available"] for r in report) == 48
        by_language: Counter[str] = Counter()
        for row in report:
            by_language[row["language"]] += row["achieved_share"]
        assert by_language["zh"] == pytest.approx(0.5) and by_language["en"] == pytest.approx(0.5)
        selections.append(sorted(r["dialogue_id"] for r in corpus_rows))
    assert selections[0] == selections[1]


def test_unscored_rows_rank_last_and_repeats_are_capped() -> None:
    table = corpus(zh=20, en=10)
    rows = table.column("quality").to_pylist()
    zh = [i for i, language in enumerate(table.column("language").to_pylist()) if language == "zh"]
    for index in zh[:10]:
        rows[index] = None
    table = table.set_column(table.schema.get_field_index("quality"), "quality", pa.array(rows, table.schema.field("quality").type))
    kept = kept_rows(Mix(MixConfig(by=["language"], targets={"language": {"zh": 0.5, "en": 0.5}}))(table))
    assert sorted(r["dialogue_id"] for r in kept if r["language"] == "zh") == sorted(table.column("dialogue_id")[i].as_py() for i in zh[10:])
    capped = Mix(MixConfig(by=["language"], targets={"language": {"zh": 0.9, "en": 0.1}}, allow_repeat=True, max_repeat=2, total=100))(table)
    repeats = Counter(from_arrow_map(r["meta"]).get("mix.repeat") for r in kept_rows(capped) if r["language"] == "zh")
    assert repeats == {"2": 20}  # 90 wanted from 20 rows: capped at twice each
