"""quality.classifier: scores into `quality`, human scores kept, thresholds reject, and a real pipeline run."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from operators.columns import REJECT_DETAIL, REJECT_REASON, conform
from operators.quality.classifier import ClassifierConfig, QualityClassifier
from pipelines.execute import run_pipeline
from pipelines.spec import PipelineError, pipeline_from_dict
from tests.operators.quality.labelled import labelled_table

SAMPLES = Path(__file__).resolve().parents[3] / "pipelines" / "samples"


def _unscored(count: int) -> pa.Table:
    table = labelled_table(count, seed=3)
    return conform(table.set_column(table.schema.get_field_index("quality"), "quality", pa.nulls(count, table.schema.field("quality").type)))


def test_scores_every_row_and_names_the_model(trained_model) -> None:
    model, folder = trained_model
    op = QualityClassifier(ClassifierConfig(model=str(folder)))
    op.setup()
    out = op(_unscored(30))
    assert out.num_rows == 30
    quality = out.column("quality").to_pylist()
    assert {q["scorer"] for q in quality} == {f"classifier:{model.version}"}
    assert all(1 <= q["overall"] <= 5 and q["consistency"] is None for q in quality)
    assert out.column(REJECT_REASON).null_count == 30


def test_existing_scores_kept_unless_overwrite_and_thresholds_reject(trained_model) -> None:
    _, folder = trained_model
    human = conform(labelled_table(30, seed=4))
    kept = QualityClassifier(ClassifierConfig(model=str(folder)))(human)
    assert kept.column("quality").equals(human.column("quality"))
    replaced = QualityClassifier(ClassifierConfig(model=str(folder), overwrite=True))(human)
    assert all(q["scorer"].startswith("classifier:qc-") for q in replaced.column("quality").to_pylist())

    judged = QualityClassifier(ClassifierConfig(model=str(folder), thresholds={"overall": 3.0, "engagement": 2.0}))(human)
    for q, reason, detail in zip(human.column("quality").to_pylist(), judged.column(REJECT_REASON).to_pylist(), judged.column(REJECT_DETAIL).to_pylist(), strict=True):
        if q["engagement"] < 2.0:  # the reason names the first failing dimension in schema order
            assert reason == "low_engagement" and f"engagement {q['engagement']:.2f} < 2" in detail and "human:hpi" in detail
        elif q["overall"] < 3.0:
            assert reason == "low_overall" and f"overall {q['overall']:.2f} < 3" in detail
        else:
            assert reason is None and detail is None
    assert pc.count(judged.column(REJECT_REASON)).as_py() > 0


def test_config_rejects_unknown_dimensions_and_out_of_range_thresholds() -> None:
    with pytest.raises(ValueError, match="unknown quality dimensions"):
        ClassifierConfig(model="m", thresholds={"charm": 3})
    with pytest.raises(ValueError, match="1-5"):
        ClassifierConfig(model="m", thresholds={"overall": 7})


def test_missing_model_is_an_error_or_a_declared_skip(tmp_path: Path) -> None:
    from operators.quality.model import ModelError

    with pytest.raises(ModelError, match="not a quality model folder"):
        QualityClassifier(ClassifierConfig(model=str(tmp_path / "none"))).setup()
    skip = QualityClassifier(ClassifierConfig(model=str(tmp_path / "none"), on_missing_model="skip"))
    table = _unscored(5)
    assert skip(table).column("quality").null_count == 5


@pytest.mark.parametrize("executor", ["inprocess", "ray"])
def test_pipeline_run_on_an_actor_pool_balances_the_ledger(trained_model, tmp_path: Path, executor: str, request: pytest.FixtureRequest) -> None:
    model, folder = trained_model
    if executor == "ray":
        request.getfixturevalue("ray_cluster")
    spec = {
        "name": "scored",
        "sources": [{"op": "read.jsonl", "paths": [str(SAMPLES / "dialogues.jsonl"), str(SAMPLES / "more_dialogues.jsonl")]}],
        "operators": [{"op": "quality.classifier", "model": str(folder), "thresholds": {"overall": 2.5}, "resources": {"actors": 1}}],
    }
    pipeline = pipeline_from_dict(spec, "scored.yaml", tmp_path)
    assert pipeline.operators[0].resources.compute == "actors"
    manifest = run_pipeline(pipeline, tmp_path / "out", executor=executor, log=lambda _: None, report=False)
    assert manifest.ledger.balanced
    corpus = pq.read_table(tmp_path / "out" / "corpus")
    assert corpus.num_rows > 0
    assert all(q["scorer"] == model.scorer and q["overall"] >= 2.5 for q in corpus.column("quality").to_pylist())
    rejects = pq.read_table(tmp_path / "out" / "rejects").to_pylist()
    for reject in rejects:
        if reject["operator"] == "quality.classifier":
            assert reject["reason"] == "low_overall"
            assert json.loads(reject["record"])["quality"]["overall"] < 2.5


def test_pipeline_spec_errors_name_the_line(tmp_path: Path) -> None:
    spec = {"name": "x", "sources": [{"op": "read.jsonl", "paths": [str(SAMPLES / "dialogues.jsonl")]}], "operators": [{"op": "quality.classifier", "model": "m", "thresholds": {"charm": 3}}]}
    with pytest.raises(PipelineError, match=r"operators\[0\].thresholds.*unknown quality dimensions"):
        pipeline_from_dict(spec, "x.yaml", tmp_path)


def test_thresholds_filter_rejects_below_minimums_and_ignores_unscored() -> None:
    from operators.quality.threshold_filter import QualityThresholds, ThresholdsConfig

    table = conform(labelled_table(40, seed=9))
    rows = table.column("quality").to_pylist()
    rows[0] = None
    table = table.set_column(table.schema.get_field_index("quality"), "quality", pa.array(rows, table.schema.field("quality").type))
    out = QualityThresholds(ThresholdsConfig(thresholds={"overall": 3}))(table)
    for quality, reason in zip(rows, out.column(REJECT_REASON).to_pylist(), strict=True):
        assert reason == ("low_overall" if quality is not None and quality["overall"] < 3 else None)
    with pytest.raises(ValueError):
        ThresholdsConfig(thresholds={})
