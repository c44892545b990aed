"""pipelines/characterdial.yaml, the whole recipe: what runs without an endpoint, and a run with pairs and mixing."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from jobs.cli import app
from pipelines.execute import run_pipeline
from pipelines.spec import load_pipeline

RECIPE = Path(__file__).resolve().parents[2] / "pipelines" / "characterdial.yaml"
LLM_STEPS = ["synthesize.profiles", "synthesize.dialogues", "synthesize.refine", "quality.judge"]


@pytest.fixture
def no_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CHARDIAL_LLM_BASE_URL", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CHARDIAL_PSEUDONYM_SALT", "test-salt")


def test_without_an_endpoint_the_llm_steps_and_their_source_are_left_out(no_endpoint) -> None:
    pipeline = load_pipeline(RECIPE)
    assert [s["op"] for s in pipeline.skipped] == LLM_STEPS + ["synthesize.plan"]
    assert all("no LLM endpoint configured" in s["reason"] for s in pipeline.skipped)
    ops = [s.op for s in pipeline.operators]
    assert not set(LLM_STEPS) & set(ops)
    assert ops[-4:] == ["quality.classifier", "preference.pairs", "quality.thresholds", "mix"]
    assert [s.op for s in pipeline.sources][0] != "synthesize.plan"
    consent = next(s for s in pipeline.operators if s.op == "privacy.consent")
    assert Path(consent.config.opt_out_file).is_file()  # type: ignore[attr-defined]  # relative to the pipeline file


def test_with_an_endpoint_every_step_is_kept(no_endpoint, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHARDIAL_LLM_BASE_URL", "http://127.0.0.1:9/v1")
    pipeline = load_pipeline(RECIPE)
    assert pipeline.skipped == []
    assert [s.op for s in pipeline.sources][0] == "synthesize.plan"
    assert set(LLM_STEPS) <= {s.op for s in pipeline.operators}


def test_validate_names_what_it_skips(no_endpoint) -> None:
    result = CliRunner().invoke(app, ["validate", str(RECIPE)])
    assert result.exit_code == 0, result.output
    assert "skipped" in result.output and "quality.judge" in result.output and "synthesize.plan" in result.output


def test_recipe_runs_with_pairs_mix_and_a_balanced_ledger(no_endpoint, tmp_path: Path) -> None:
    # in-process: privacy.consent reads its salt from the environment, which workers of an already running
    # Ray cluster do not see (pairs and mix have their own Ray tests)
    out = tmp_path / "characterdial"
    manifest = run_pipeline(load_pipeline(RECIPE), out, executor="inprocess", report=False, log=lambda m: None)
    ledger = manifest.ledger
    assert ledger.balanced and ledger.input == ledger.output + ledger.rejected
    rejects = Counter((r["operator"], r["reason"]) for r in pq.read_table(out / "rejects").to_pylist())
    assert rejects[("privacy.consent", "opted_out")] == 1 and rejects[("filters.character_break", "character_break")] == 1 and rejects[("mix", "mix")] >= 1
    pairs = pq.read_table(out / "pairs").to_pylist()
    # the judge-ranked candidate with the AI-ism reply is removed by filters.character_break before pairing
    assert Counter(p["pair_source"] for p in pairs) == {"hpi_rewrite": 2, "swipe_choice": 1}
    assert all(p["split"] for p in pairs)
    assert [r["reason"] for r in pq.read_table(out / "pair_rejects").to_pylist()] == ["small_margin"]
    shares = Counter()
    for row in pq.read_table(out / "mix").to_pylist():
        shares[row["language"]] += row["achieved_share"]
    assert shares["zh"] == pytest.approx(0.5, abs=1e-5) and shares["en"] == pytest.approx(0.5, abs=1e-5)  # shares are rounded to 6 places
    corpus = pq.read_table(out / "corpus").to_pylist()
    languages = Counter(r["language"] for r in corpus)
    assert languages["zh"] == languages["en"] > 0
