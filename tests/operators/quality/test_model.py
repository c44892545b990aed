"""The quality model: held-out agreement against the majority baseline, artifact versioning, splits."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from operators.quality.model import ModelError, TrainSettings, agreement, data_hash, held_out_mask, load_model, train
from tests.operators.quality.labelled import labelled_table


def test_beats_the_majority_class_baseline_on_held_out_characters(trained_model) -> None:
    model, _ = trained_model
    for dimension in ("overall", "human_likeness", "engagement"):
        metrics = model.info["metrics"][dimension]
        ours, base = metrics["model"], metrics["majority_baseline"]
        assert ours["n"] == base["n"] >= 50
        assert ours["spearman"] is not None and ours["spearman"] >= 0.6, metrics
        assert base["spearman"] is None  # a constant prediction has no rank correlation
        assert ours["mae"] <= base["mae"] - 0.25, metrics
        assert ours["within_1"] >= base["within_1"], metrics
        assert ours["exact"] >= base["exact"] + 0.15, metrics
    overall = model.info["metrics"]["overall"]
    assert overall["model"]["within_1"] >= overall["majority_baseline"]["within_1"] + 0.1, overall


def test_held_out_split_keeps_characters_on_one_side() -> None:
    table = labelled_table(300)
    characters = table.column("character_id").to_pylist()
    held, unit = held_out_mask(characters, 0.2, seed=0)
    assert unit == "character"
    assert not {c for c, h in zip(characters, held, strict=True) if h} & {c for c, h in zip(characters, held, strict=True) if not h}
    assert 0.05 < held.mean() < 0.4
    few, unit = held_out_mask(["a", "a", "b"] * 10, 0.5, seed=0)
    assert unit == "dialogue" and 0 < few.sum() < 30


def test_artifact_round_trip_and_version_follows_the_data(trained_model, tmp_path: Path) -> None:
    model, folder = trained_model
    info = json.loads((folder / "model.json").read_text())
    assert info["version"] == model.version and info["training_data"]["hash"] == data_hash(labelled_table(500))
    assert info["training_data"]["label_scorers"] == {"human:hpi": 500}
    assert set(info["metrics"]) == set(info["dimensions"]) == {"overall", "human_likeness", "engagement"}
    assert set(info["skipped_dimensions"]) == {"consistency", "quality", "safety", "correctness"}
    loaded = load_model(folder)
    sample = labelled_table(40, seed=7)
    for dimension, values in model.predict(sample).items():
        np.testing.assert_allclose(loaded.predict(sample)[dimension], values)
        assert values.min() >= 1 and values.max() <= 5
    # same labels in another order: same hash; one label changed: another hash and version
    shuffled = labelled_table(500).take(np.random.default_rng(0).permutation(500))
    assert data_hash(shuffled) == info["training_data"]["hash"]
    rows = labelled_table(60).to_pylist()
    rows[0]["quality"]["overall"] = 5.0 if rows[0]["quality"]["overall"] != 5.0 else 1.0
    import pyarrow as pa

    assert data_hash(pa.Table.from_pylist(rows, schema=labelled_table(1).schema)) != data_hash(labelled_table(60))


def test_agreement_measures() -> None:
    result = agreement(np.array([1.0, 2.2, 3.9, 5.0]), np.array([1.0, 3.0, 3.0, 3.0]))
    assert result.n == 4 and result.within_1 == 0.75 and result.exact == 0.25  # rounded: 1, 2, 4, 5
    assert result.mae == pytest.approx((0 + 0.8 + 0.9 + 2.0) / 4, abs=1e-4)
    assert result.spearman is not None and result.spearman > 0


def test_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not a quality model folder"):
        load_model(tmp_path)
    (tmp_path / "model.json").write_text("{bad")
    (tmp_path / "weights.joblib").write_bytes(b"")
    with pytest.raises(ModelError, match=r"model.json:1: invalid JSON"):
        load_model(tmp_path)
    with pytest.raises(ModelError, match="no dimension has enough labels"):
        train(labelled_table(30), TrainSettings(min_labels=200))
