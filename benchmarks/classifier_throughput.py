"""quality.classifier scoring throughput: dialogues/s on one core, beside a plain vectorised operator.

Trains a model on the labelled fixture (tests/operators/quality/labelled.py), then scores the same
batches with `quality.classifier` and with `filters.length` (vectorised Arrow, the cheapest real
operator: the baseline), in one process pinned to one thread, best of --repeats. Reports dialogues/s
for both, the ratio, and the classifier's split between features (hashing) and the linear model.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(variable, "1")  # per core: BLAS must not use the other cores
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import pyarrow as pa  # noqa: E402

from benchmarks.timing import best  # noqa: E402
from operators.columns import conform  # noqa: E402
from operators.filters.length import LengthConfig, LengthFilter  # noqa: E402
from operators.quality.classifier import ClassifierConfig, QualityClassifier  # noqa: E402
from operators.quality.features import featurize, row_dicts  # noqa: E402
from operators.quality.model import TrainSettings, train  # noqa: E402
from schemas import DIALOGUE_SCHEMA  # noqa: E402
from tests.operators.quality.labelled import labelled_rows  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000, help="Dialogues to score.")
    parser.add_argument("--batch", type=int, default=2_000, help="Rows per batch (a Ray Data block).")
    parser.add_argument("--repeats", type=int, default=3, help="Best of this many timings.")
    parser.add_argument("--json", default=None, help="Also write the results here.")
    args = parser.parse_args()

    model_dir = Path(tempfile.mkdtemp(prefix="chardial-qc-bench-")) / "model"
    train(pa.Table.from_pylist(labelled_rows(2_000, seed=1), schema=DIALOGUE_SCHEMA), TrainSettings()).save(model_dir)
    rows = labelled_rows(args.rows, seed=2)
    for row in rows:
        row["quality"] = None
    table = conform(pa.Table.from_pylist(rows, schema=DIALOGUE_SCHEMA))
    batches = [table.slice(start, args.batch) for start in range(0, table.num_rows, args.batch)]
    classifier = QualityClassifier(ClassifierConfig(model=str(model_dir)))
    classifier.setup()
    length = LengthFilter(LengthConfig(min_turns=2))
    chars = sum(len(t["text"]) for r in rows for t in r["turns"]) / len(rows)

    classify_s = best(args.repeats, lambda: [classifier(b) for b in batches])
    length_s = best(args.repeats, lambda: [length(b) for b in batches])
    features_s = best(args.repeats, lambda: [featurize(row_dicts(b), classifier.model.settings.features) for b in batches])  # type: ignore[union-attr]
    result = {
        "rows": table.num_rows,
        "mean_chars_per_dialogue": round(chars, 1),
        "classifier_dialogues_per_s": round(table.num_rows / classify_s, 1),
        "baseline_filters_length_dialogues_per_s": round(table.num_rows / length_s, 1),
        "classifier_time_vs_baseline": round(classify_s / length_s, 1),
        "features_share_of_classifier_time": round(features_s / classify_s, 3),
    }
    print(json.dumps(result, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
