"""The quality classifier's model: one ridge regression per dimension over hashed n-grams and dense
features, trained on 1-5 labels (human HPI ratings or judge scores), saved as a versioned artifact.

The shipped regressors are the ones fitted on the training split, so the recorded held-out metrics
describe exactly the model that scores. A model folder holds `model.json` (version, training data hash, feature settings, dimensions, held-out
metrics against the majority-class baseline, library versions) and `weights.joblib` (the fitted scaler and
regressors). The version is derived from the training data hash and the settings, so the same labels and
settings give the same version; `Quality.scorer` of every scored row names it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp
from pydantic import BaseModel, ConfigDict, Field
from scipy.stats import spearmanr
from sklearn.linear_model import Ridge
from sklearn.preprocessing import StandardScaler

from operators.arrow_lists import combined
from operators.quality.dimensions import DIMENSIONS
from operators.quality.features import DENSE_FEATURES, FeatureSettings, featurize, row_dicts

FORMAT_VERSION = 1
SCORE_RANGE = (1.0, 5.0)


class ModelError(ValueError):
    """A model folder or label set that cannot be used; the message names the path and the problem."""


class TrainSettings(BaseModel):
    """How a model is trained; stored with it."""

    model_config = ConfigDict(extra="forbid")

    features: FeatureSettings = Field(default_factory=FeatureSettings)
    alpha: float = Field(1.0, gt=0, description="Ridge regularisation strength.")
    test_fraction: float = Field(0.2, gt=0, lt=1, description="Share of characters held out for the reported metrics.")
    seed: int = Field(0, description="Salt of the held-out split.")
    min_labels: int = Field(20, ge=2, description="A dimension with fewer training labels is not modelled.")
    dimensions: tuple[str, ...] = Field(DIMENSIONS, description="Dimensions to model (those with enough labels).")


class Agreement(BaseModel):
    """Agreement of predictions with held-out labels on one dimension."""

    model_config = ConfigDict(extra="forbid")

    n: int
    spearman: float | None = Field(description="Spearman rank correlation (null when either side is constant).")
    within_1: float = Field(description="Share of predictions within 1 point of the label.")
    exact: float = Field(description="Share whose rounded prediction equals the rounded label.")
    mae: float = Field(description="Mean absolute error.")


def agreement(predicted: np.ndarray, labels: np.ndarray) -> Agreement:
    """Spearman, accuracy within ±1, exact (rounded) accuracy and MAE of `predicted` against `labels`."""
    rho = None
    if len(labels) > 1 and np.ptp(predicted) > 0 and np.ptp(labels) > 0:
        value = spearmanr(predicted, labels).statistic
        rho = None if np.isnan(value) else round(float(value), 4)
    diff = np.abs(predicted - labels)
    return Agreement(
        n=len(labels),
        spearman=rho,
        within_1=round(float(np.mean(diff <= 1.0 + 1e-9)), 4),
        exact=round(float(np.mean(np.rint(predicted) == np.rint(labels))), 4),
        mae=round(float(np.mean(diff)), 4),
    )


def labels_of(batch: pa.Table, dimension: str) -> np.ndarray:
    """One dimension of the `quality` struct as floats (NaN where unscored)."""
    values = pc.struct_field(combined(batch.column("quality")), dimension)  # null where the whole struct is null
    return pc.fill_null(values.cast(pa.float64()), np.nan).to_numpy(zero_copy_only=False)


def data_hash(batch: pa.Table) -> str:
    """sha256 over the sorted (dialogue_id, labels) pairs: the same labels in any file layout give the same hash."""
    ids = combined(batch.column("dialogue_id")).to_pylist()
    labels = [labels_of(batch, d) for d in DIMENSIONS]
    items = sorted(json.dumps([ids[i], [None if np.isnan(v[i]) else float(v[i]) for v in labels]]) for i in range(len(ids)))
    digest = hashlib.sha256()
    for item in items:
        digest.update(item.encode("utf-8") + b"\n")
    return digest.hexdigest()


def held_out_mask(character_ids: list[str], fraction: float, seed: int) -> tuple[np.ndarray, str]:
    """True for held-out rows: whole characters, by a salted hash, so no character is on both sides.

    With fewer than ten characters the split falls back to dialogues (and says so)."""
    unit, keys = "character", character_ids
    if len(set(character_ids)) < 10:
        unit, keys = "dialogue", [f"{c}\x1f{i}" for i, c in enumerate(character_ids)]
    draws = [int.from_bytes(hashlib.blake2b(f"{seed}\x1f{k}".encode(), digest_size=8).digest(), "big") / 2**64 for k in keys]
    return np.array([d < fraction for d in draws]), unit


@dataclass
class QualityModel:
    """A fitted model: settings, scaler, multi-output regressors (each with the dimensions it predicts), metadata."""

    settings: TrainSettings
    scaler: StandardScaler
    regressors: list[tuple[tuple[str, ...], Ridge]]
    info: dict[str, Any]

    @property
    def version(self) -> str:
        return str(self.info["version"])

    @property
    def scorer(self) -> str:
        return f"classifier:{self.version}"

    def matrix(self, batch: pa.Table) -> sp.csr_matrix:
        hashed, dense = featurize(row_dicts(batch), self.settings.features)
        return sp.hstack([hashed, sp.csr_matrix(self.scaler.transform(dense))], format="csr")

    def predict(self, batch: pa.Table) -> dict[str, np.ndarray]:
        """Scores per dimension, clipped to 1-5, for every row of a dialogue table."""
        if batch.num_rows == 0:
            return {d: np.empty(0) for dimensions, _ in self.regressors for d in dimensions}
        x = self.matrix(batch)
        scores = {}
        for dimensions, regressor in self.regressors:
            predicted = np.clip(regressor.predict(x).reshape(batch.num_rows, len(dimensions)), *SCORE_RANGE)
            scores.update({d: predicted[:, i] for i, d in enumerate(dimensions)})
        return scores

    def evaluate(self, batch: pa.Table) -> dict[str, dict[str, Any]]:
        """Agreement with the labels in `batch`, per modelled dimension that has labels there."""
        predictions = self.predict(batch)
        report = {}
        for dimension, predicted in predictions.items():
            labels = labels_of(batch, dimension)
            known = ~np.isnan(labels)
            if known.any():
                report[dimension] = agreement(predicted[known], labels[known]).model_dump()
        return report

    def save(self, directory: str | Path) -> Path:
        import joblib

        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        joblib.dump({"scaler": self.scaler, "regressors": self.regressors}, out / "weights.joblib.tmp")
        (out / "weights.joblib.tmp").replace(out / "weights.joblib")
        (out / "model.json").write_text(json.dumps(self.info, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        return out


def load_model(directory: str | Path) -> QualityModel:
    """Load a model folder written by `train`; ModelError naming the folder when it is not one."""
    import joblib

    folder = Path(directory)
    meta_path, weights_path = folder / "model.json", folder / "weights.joblib"
    if not meta_path.is_file() or not weights_path.is_file():
        raise ModelError(f"{folder}: not a quality model folder (needs model.json and weights.joblib; make one with `chardial quality train`)")
    try:
        info = json.loads(meta_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ModelError(f"{meta_path}:{error.lineno}: invalid JSON: {error.msg}") from None
    if info.get("format_version") != FORMAT_VERSION:
        raise ModelError(f"{meta_path}: format_version {info.get('format_version')!r}, this code reads {FORMAT_VERSION}: retrain the model")
    weights = joblib.load(weights_path)
    return QualityModel(TrainSettings.model_validate(info["settings"]), weights["scaler"], weights["regressors"], info)


def majority_baseline(train_labels: np.ndarray, test_labels: np.ndarray) -> Agreement:
    """The majority-class baseline: always predict the most common rounded training label."""
    mode = Counter(np.rint(train_labels).tolist()).most_common(1)[0][0]
    return agreement(np.full(len(test_labels), mode, dtype=np.float64), test_labels)


def train(batch: pa.Table, settings: TrainSettings, sources: list[str] | None = None) -> QualityModel:
    """Fit the regressors on the training characters and report agreement on the held-out ones.

    The artifact is exactly the model the metrics describe (no refit on the held-out rows). Dimensions
    labelled on the same rows (the usual case: a judge scores all of them, HPI gives `overall`) are fitted
    together as one multi-output ridge."""
    import sklearn

    if batch.num_rows == 0:
        raise ModelError("no labelled dialogues to train on")
    characters = combined(batch.column("character_id")).to_pylist()
    test, unit = held_out_mask(characters, settings.test_fraction, settings.seed)
    if test.all() or not test.any():
        raise ModelError(f"cannot hold out {settings.test_fraction:.0%} of {len(set(characters))} character(s): add labelled dialogues")
    hashed, dense = featurize(row_dicts(batch), settings.features)
    scaler = StandardScaler().fit(dense[~test])
    x = sp.hstack([hashed, sp.csr_matrix(scaler.transform(dense))], format="csr")
    labels = {d: labels_of(batch, d) for d in settings.dimensions}
    skipped: dict[str, str] = {}
    groups: dict[bytes, list[str]] = {}
    for dimension, values in labels.items():
        known = ~np.isnan(values)
        fit_count, eval_count = int((known & ~test).sum()), int((known & test).sum())
        if fit_count < settings.min_labels or eval_count < 2:
            skipped[dimension] = f"{fit_count} training and {eval_count} held-out label(s) (min_labels {settings.min_labels})"
        else:
            groups.setdefault(known.tobytes(), []).append(dimension)
    if not groups:
        raise ModelError("no dimension has enough labels: " + "; ".join(f"{d}: {why}" for d, why in skipped.items()))
    regressors: list[tuple[tuple[str, ...], Ridge]] = []
    metrics: dict[str, Any] = {}
    for mask_bytes, dimensions in groups.items():
        known = np.frombuffer(mask_bytes, dtype=bool)
        fit_rows, eval_rows = known & ~test, known & test
        targets = np.column_stack([labels[d][fit_rows] for d in dimensions])
        fitted = Ridge(alpha=settings.alpha, solver="sparse_cg").fit(x[fit_rows], targets)
        predicted = np.clip(fitted.predict(x[eval_rows]).reshape(int(eval_rows.sum()), len(dimensions)), *SCORE_RANGE)
        regressors.append((tuple(dimensions), fitted))
        for column, dimension in enumerate(dimensions):
            metrics[dimension] = {
                "model": agreement(predicted[:, column], labels[dimension][eval_rows]).model_dump(),
                "majority_baseline": majority_baseline(labels[dimension][fit_rows], labels[dimension][eval_rows]).model_dump(),
                "train_labels": int(fit_rows.sum()),
            }
    digest = data_hash(batch)
    settings_digest = hashlib.sha256(settings.model_dump_json().encode()).hexdigest()
    scorers = Counter(s for s in pc.struct_field(combined(batch.column("quality")), "scorer").to_pylist() if s)
    info = {
        "format_version": FORMAT_VERSION,
        "version": f"qc-{hashlib.sha256((digest + settings_digest).encode()).hexdigest()[:12]}",
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "training_data": {
            "hash": digest,
            "dialogues": batch.num_rows,
            "characters": len(set(characters)),
            "label_scorers": dict(scorers.most_common()),
            "sources": sources or [],
        },
        "held_out": {"unit": unit, "fraction": settings.test_fraction, "seed": settings.seed, "dialogues": int(test.sum())},
        "dimensions": [d for d in settings.dimensions if d in metrics],
        "skipped_dimensions": skipped,
        "metrics": metrics,
        "dense_features": list(DENSE_FEATURES),
        "settings": json.loads(settings.model_dump_json()),
        "libraries": {"scikit-learn": sklearn.__version__, "numpy": np.__version__},
    }
    return QualityModel(settings, scaler, regressors, info)
