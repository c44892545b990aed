"""pipelines/synthesis.yaml: every step names a registered operator and its settings validate."""

from __future__ import annotations

from pathlib import Path

import yaml

from operators.columns import REJECT_REASON
from operators.registry import lookup

PIPELINE = Path(__file__).resolve().parents[1] / "pipelines" / "synthesis.yaml"


def test_example_pipeline_validates_and_its_seeds_plan():
    spec = yaml.safe_load(PIPELINE.read_text(encoding="utf-8"))
    configs = []
    for step in spec["sources"] + spec["operators"]:
        settings = dict(step)
        cls = lookup(settings.pop("op"))
        if "paths" in settings:
            settings["paths"] = [str(PIPELINE.parent / p) for p in settings["paths"]]
        configs.append((cls, cls.Config(**settings)))
    source_cls, source_config = configs[0]
    source = source_cls(source_config)
    rows = [row for path in source_config.paths for table in source.read(path, 1000) for row in table.to_pylist()]
    assert rows and all(row[REJECT_REASON] is None for row in rows)
    # 2 named celebrities + 2 + 2 invented + 1 fictional + 1 other = 8 characters, 6 dialogues each
    assert len(rows) == 8 * 6
    llm_steps = [config for cls, config in configs if cls.name.startswith("synthesize.") and cls.name != "synthesize.plan"]
    assert len(llm_steps) == 3 and all(config.llm.api_key is None and config.llm.base_url is None for config in llm_steps)
