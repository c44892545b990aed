"""pipelines/characterdial.yaml through `chardial recipe`: what runs without an endpoint, and a real Ray run."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from jobs.cli_recipe import app
from jobs.recipe import plan_recipe

RECIPE = Path(__file__).resolve().parents[2] / "pipelines" / "characterdial.yaml"
LLM_STEPS = ["synthesize.profiles", "synthesize.dialogues", "synthesize.refine", "quality.judge"]


@pytest.fixture
def no_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CHARDIAL_LLM_BASE_URL", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CHARDIAL_PSEUDONYM_SALT", "test-salt")


def test_without_an_endpoint_the_llm_steps_and_their_source_are_left_out(no_endpoint) -> None:
    recipe = plan_recipe(RECIPE)
    assert [line.split(":")[0].split(" ", 1)[1] for line in recipe.skipped] == LLM_STEPS + ["synthesize.plan"]
    ops = [s.op for s in recipe.pipeline.operators]
    assert not set(LLM_STEPS) & set(ops)
    assert ops[-4:] == ["quality.classifier", "preference.pairs", "quality.thresholds", "mix"]
    assert [s.op for s in recipe.pipeline.sources] == ["read.hrp", "read.hpi", "read.sillytavern", "read.sharegpt", "read.jsonl"]
    consent = next(s for s in recipe.pipeline.operators if s.op == "privacy.consent")
    assert Path(consent.config.opt_out_file).is_file()  # type: ignore[attr-defined]


def test_with_an_endpoint_every_step_is_kept(no_endpoint, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHARDIAL_LLM_BASE_URL", "http://127.0.0.1:9/v1")
    recipe = plan_recipe(RECIPE)
    assert recipe.skipped == []
    assert [s.op for s in recipe.pipeline.sources][0] == "synthesize.plan"
    assert set(LLM_STEPS) <= {s.op for s in recipe.pipeline.operators}


def test_plan_command_names_what_it_skips(no_endpoint) -> None:
    result = CliRunner().invoke(app, ["plan", str(RECIPE)])
    assert result.exit_code == 0, result.output
    assert "skipped operators[11] quality.judge: no LLM endpoint configured" in result.output
    assert "no model at models/quality" in result.output and "  mix" in result.output


def test_recipe_runs_with_pairs_mix_and_a_balanced_ledger(no_endpoint, tmp_path: Path) -> None:
    # in-process: privacy.consent reads its salt from the environment, which workers of an already running
    # Ray cluster do not see (pairs and mix have their own Ray tests)
    out = tmp_path / "characterdial"
    result = CliRunner().invoke(app, ["run", str(RECIPE), "--output", str(out), "--no-report", "--executor", "inprocess"])
    assert result.exit_code == 0, result.output
    assert "5 step(s) skipped" in result.output and "ledger: input 26 = output 18 + rejected 8" in result.output
    rejects = Counter((r["operator"], r["reason"]) for r in pq.read_table(out / "rejects").to_pylist())
    assert rejects[("privacy.consent", "opted_out")] == 1 and rejects[("quality.thresholds", "low_overall")] == 1 and rejects[("mix", "mix")] == 2
    pairs = pq.read_table(out / "pairs").to_pylist()
    assert Counter(p["pair_source"] for p in pairs) == {"hpi_rewrite": 2, "judge_ranked": 1}
    assert all(p["split"] for p in pairs)
    assert [r["reason"] for r in pq.read_table(out / "pair_rejects").to_pylist()] == ["small_margin"]
    shares = Counter()
    for row in pq.read_table(out / "mix").to_pylist():
        shares[row["language"]] += row["achieved_share"]
    assert shares["zh"] == pytest.approx(0.5, abs=1e-5) and shares["en"] == pytest.approx(0.5, abs=1e-5)  # shares are rounded to 6 places
    corpus = pq.read_table(out / "corpus").to_pylist()
    assert Counter(r["language"] for r in corpus) == {"zh": 9, "en": 9}
