"""Readers and operators cross process boundaries (Ray tasks and actors pickle them): they must pickle and still work."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from operators.base import RunContext
from operators.classify.category import ClassifyCategory
from operators.ingest.base import FORMATS
from operators.preference.hpi_rewrite import HpiRewritePairs
from operators.privacy.consent import Consent, ConsentConfig
from operators.privacy.pii import PiiRedaction
from tests.operators.ingest.harness import write_jsonl
from tests.operators.ingest.test_hrp import SESSIONS


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_readers_pickle(fmt: str) -> None:
    reader = FORMATS[fmt].reader(FORMATS[fmt].reader.Config(paths=["x"]), RunContext(run_id="r"))
    assert pickle.loads(pickle.dumps(reader)).config == reader.config


def test_operators_pickle_and_run_after_unpickling(tmp_path: Path) -> None:
    reader = FORMATS["hrp"].reader(FORMATS["hrp"].reader.Config(paths=["x"]))
    path = write_jsonl(tmp_path / "log.jsonl", SESSIONS)
    table = next(pickle.loads(pickle.dumps(reader)).read(str(path), 10))
    context = RunContext(staging_dir=str(tmp_path / "staging"))
    for operator in (PiiRedaction(context=context), Consent(ConsentConfig(pseudonymize=False), context), HpiRewritePairs(context=context), ClassifyCategory()):
        assert pickle.loads(pickle.dumps(operator))(table).num_rows == table.num_rows
