"""A quality model trained once on the labelled fixture, shared by the tests in this folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from operators.quality.model import QualityModel, TrainSettings, train
from tests.operators.quality.labelled import labelled_table


@pytest.fixture(scope="session")
def trained_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[QualityModel, Path]:
    model = train(labelled_table(500), TrainSettings())
    return model, model.save(tmp_path_factory.mktemp("model") / "qc")
