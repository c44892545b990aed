"""Recipes: a pipeline file run with whatever the environment allows, saying what it left out.

A recipe such as pipelines/characterdial.yaml names steps that need an LLM endpoint (synthesis, the
judge) and steps that need a trained model (the classifier). `plan_recipe` drops the operator steps whose
`llm` block has no endpoint (none in the file, none in $CHARDIAL_LLM_BASE_URL / $OPENAI_BASE_URL), and
the `synthesize.*` sources when synthesis steps were dropped (their planned rows need those steps), and
returns the runnable pipeline with one line per skipped step. Keys of operator steps that end in `_file`
or `_dir` are paths relative to the pipeline file, like sources' `paths`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from pipelines.spec import Pipeline, load_pipeline, pipeline_from_dict


@dataclass
class Recipe:
    """A runnable pipeline and what was left out of it, and why."""

    pipeline: Pipeline
    skipped: list[str]
    notes: list[str]


def _needs_endpoint(step: dict[str, Any]) -> str | None:
    """The client's one-line message when the step has an `llm` block and no endpoint, else None."""
    if not isinstance(step.get("llm"), dict):
        return None
    from operators.synthesis.client import LLMConfig

    try:
        config = LLMConfig.model_validate(step["llm"])
    except ValueError:
        return None  # an invalid block is reported by the pipeline validation, with its line
    return config.missing_endpoint()


def plan_recipe(path: str | os.PathLike[str]) -> Recipe:
    """Load a recipe, leave out the steps the environment cannot run, validate the rest.

    The whole file is validated first, so errors name the lines of the file as written."""
    file = str(path)
    load_pipeline(file)
    data = yaml.safe_load(Path(file).read_text(encoding="utf-8"))
    base = Path(file).resolve().parent
    skipped: list[str] = []
    notes: list[str] = []
    operators = []
    dropped_synthesis = False
    for index, step in enumerate(data.get("operators") or []):
        missing = _needs_endpoint(step) if isinstance(step, dict) else None
        if missing is not None:
            skipped.append(f"operators[{index}] {step.get('op')}: no LLM endpoint configured")
            dropped_synthesis |= str(step.get("op", "")).startswith("synthesize.")
            continue
        if isinstance(step, dict):
            step = {k: (str(base / v) if k.endswith(("_file", "_dir")) and isinstance(v, str) and not os.path.isabs(v) else v) for k, v in step.items()}
            if step.get("op") == "quality.classifier" and step.get("on_missing_model") == "skip" and not os.path.exists(str(step.get("model", ""))):
                notes.append(f"operators[{index}] quality.classifier: no model at {step.get('model')} yet: rows pass unscored (train one with `chardial quality train`)")
        operators.append(step)
    sources = []
    for index, step in enumerate(data.get("sources") or []):
        if dropped_synthesis and isinstance(step, dict) and str(step.get("op", "")).startswith("synthesize."):
            skipped.append(f"sources[{index}] {step.get('op')}: its rows need the synthesis steps skipped above")
            continue
        sources.append(step)
    runnable = {**data, "sources": sources, "operators": operators}
    return Recipe(pipeline_from_dict(runnable, file, base), skipped, notes)
