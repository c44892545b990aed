"""A pipeline is one YAML file that fully describes a run; it is validated whole before any data moves.

    name: quickstart
    sources:
      - op: read.jsonl
        paths: [samples/dialogues.jsonl]      # relative to this file
    operators:
      - op: normalize.text
      - op: filters.length
        min_turns: 2
        resources: {cpus: 0.5}                # optional override of the operator's declared resources
    output:
      rows_per_shard: 50000

Every step is `op: NAME` plus that operator's config keys. Errors name the YAML path and line,
e.g. `quickstart.yaml:12: operators[1].min_turn: Extra inputs are not permitted (filters.length)`.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from operators.base import GlobalOperator, Operator, OperatorConfig, Resources, Source
from operators.columns import DIALOGUE_COLUMNS
from operators.registry import lookup
from schemas import DIALOGUE_SCHEMA

FILTERABLE_COLUMNS = tuple(f.name for f in DIALOGUE_SCHEMA if pa.types.is_string(f.type))


class PipelineError(ValueError):
    """A pipeline file that cannot run; the message names the file, the YAML path and the line."""


class OutputSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rows_per_shard: int = Field(100_000, ge=1, description="Most rows per Parquet file.")
    compression: Literal["zstd", "snappy", "gzip", "lz4", "none"] = "zstd"
    compression_level: int | None = Field(None, description="Codec level (zstd: 1-22); codec default when null.")


class ExecutionSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rows_per_block: int = Field(2_000, ge=1, description="Rows per block read from a source file (the unit of parallel work).")
    shuffle_partitions: int | None = Field(None, ge=1, description="Partitions for global steps (group-bys); default: 2 x cluster CPUs.")
    log_stats: bool = Field(False, description="Print Ray Data's per-operator statistics (wall and CPU time, rows, blocks) after the run.")


class _Document(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    description: str = ""
    sources: list[dict[str, Any]] = Field(min_length=1)
    operators: list[dict[str, Any]] = Field(default_factory=list)
    output: OutputSpec = Field(default_factory=OutputSpec)
    execution: ExecutionSpec = Field(default_factory=ExecutionSpec)


@dataclass
class Step:
    """One validated step: its operator class, config, resources and where it was declared."""

    op: str
    cls: type
    config: OperatorConfig
    resources: Resources
    where: str
    index: int
    only: dict[str, list[str]] = field(default_factory=dict)

    @property
    def is_global(self) -> bool:
        return issubclass(self.cls, GlobalOperator) or hasattr(self.cls, "apply")


@dataclass
class Pipeline:
    path: str
    name: str
    description: str
    sources: list[Step]
    operators: list[Step]
    output: OutputSpec
    execution: ExecutionSpec
    inputs: dict[int, list[str]] = field(default_factory=dict)
    skipped: list[dict[str, str]] = field(default_factory=list)

    def canonical(self) -> dict[str, Any]:
        """The spec with defaults filled in: what the manifest records and the hash covers."""

        def dump(step: Step) -> dict[str, Any]:
            data = {"op": step.op, **step.config.model_dump(mode="json"), "resources": step.resources.model_dump(mode="json", exclude_none=True)}
            return {**data, "only": step.only} if step.only else data

        return {
            "name": self.name,
            "description": self.description,
            "sources": [dump(s) for s in self.sources],
            "operators": [dump(s) for s in self.operators],
            "output": self.output.model_dump(mode="json"),
            "execution": self.execution.model_dump(mode="json"),
            "skipped": self.skipped,
        }

    def hash(self) -> str:
        return hashlib.sha256(json.dumps(self.canonical(), sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()


def _line_index(text: str) -> dict[tuple, int]:
    """YAML path (tuple of keys/indices) -> 1-based line, for error messages."""
    lines: dict[tuple, int] = {}

    def walk(node: yaml.Node, path: tuple) -> None:
        lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                child = path + (key.value,)
                lines[child] = key.start_mark.line + 1
                walk(value, child)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, path + (i,))

    try:
        root = yaml.compose(text)
    except yaml.YAMLError:
        return lines
    if root is not None:
        walk(root, ())
    return lines


def _format_path(path: tuple) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


class _Errors:
    def __init__(self, file: str, lines: dict[tuple, int]) -> None:
        self.file, self.lines, self.items = file, lines, []

    def add(self, path: tuple, message: str) -> None:
        line = None
        for cut in range(len(path), -1, -1):
            if path[:cut] in self.lines:
                line = self.lines[path[:cut]]
                break
        self.items.append(f"{self.file}:{line if line else '?'}: {_format_path(path)}: {message}")

    def add_validation(self, prefix: tuple, error: ValidationError, suffix: str = "") -> None:
        for problem in error.errors():
            self.add(prefix + tuple(problem["loc"]), problem["msg"] + suffix)


def resolve_paths(patterns: list[str], base: Path) -> tuple[list[str], list[tuple[int, str]]]:
    """Expand files, folders and globs (relative to `base`); returns files and (index, problem) pairs."""
    files: list[str] = []
    problems: list[tuple[int, str]] = []
    for index, pattern in enumerate(patterns):
        full = pattern if os.path.isabs(pattern) else str(base / pattern)
        if any(ch in pattern for ch in "*?["):
            matched = sorted(p for p in glob.glob(full, recursive=True) if os.path.isfile(p))
            if not matched:
                problems.append((index, f"no file matches {pattern!r}"))
            files.extend(matched)
        elif os.path.isdir(full):
            matched = sorted(str(p) for p in Path(full).rglob("*") if p.is_file() and not p.name.startswith("."))
            if not matched:
                problems.append((index, f"folder {pattern!r} has no files"))
            files.extend(matched)
        elif os.path.isfile(full):
            files.append(full)
        else:
            problems.append((index, f"no such file or folder: {full}"))
    return [os.path.abspath(f) for f in files], problems


def _build_step(raw: Any, path: tuple, errors: _Errors, index: int, want_source: bool, base: Path) -> Step | None:
    if not isinstance(raw, dict):
        errors.add(path, f"a step is a mapping with an 'op' key, got {type(raw).__name__}")
        return None
    raw = dict(raw)
    name = raw.pop("op", None)
    if not isinstance(name, str):
        errors.add(path, "missing 'op' (the operator's name)")
        return None
    try:
        cls = lookup(name)
    except KeyError as error:
        errors.add(path + ("op",), str(error.args[0]))
        return None
    is_source = isinstance(cls, type) and issubclass(cls, Source)
    if want_source != is_source:
        errors.add(path + ("op",), f"{name} is {'a source' if is_source else 'not a source'}: it belongs under {'sources' if is_source else 'operators'}")
        return None
    if not is_source and not (isinstance(cls, type) and issubclass(cls, Operator)):
        errors.add(path + ("op",), f"{name} is not an operator class")
        return None
    only = dict(getattr(cls, "default_only", {}) or {})
    if "only" in raw:
        given = raw.pop("only")
        if not isinstance(given, dict) or not all(isinstance(k, str) and k in FILTERABLE_COLUMNS for k in given):
            errors.add(path + ("only",), f"`only` maps columns to a value or a list of values, e.g. {{source: synthesis}}; columns: {', '.join(FILTERABLE_COLUMNS)}")
            return None
        only = {k: [str(x) for x in (v if isinstance(v, list) else [v])] for k, v in given.items()}
    declared = getattr(cls, "resources", Resources())
    resources = declared
    if "resources" in raw:
        try:
            resources = declared.model_copy(update=Resources.model_validate(raw.pop("resources")).model_dump(exclude_unset=True))
        except ValidationError as error:
            errors.add_validation(path + ("resources",), error)
            return None
    for key, value in raw.items():
        # A relative `*_file` / `*_dir` setting that names a path beside the pipeline file means that path,
        # as `paths` do (other values, e.g. a file-name pattern, are left as written).
        if key.endswith(("_file", "_dir")) and isinstance(value, str) and value and not os.path.isabs(value) and (base / value).exists():
            raw[key] = str(base / value)
    try:
        config = cls.Config.model_validate(raw)
    except ValidationError as error:
        errors.add_validation(path, error, f" ({name})")
        return None
    return Step(op=name, cls=cls, config=config, resources=resources, where=_format_path(path), index=index, only=only)


def load_pipeline(path: str | os.PathLike[str]) -> Pipeline:
    """Read and validate a pipeline file; raises PipelineError listing every problem found."""
    file = str(path)
    try:
        text = Path(file).read_text(encoding="utf-8")
    except OSError as error:
        raise PipelineError(f"{file}: cannot read pipeline: {error.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{file}:{mark.line + 1}" if mark else file
        raise PipelineError(f"{where}: invalid YAML: {getattr(error, 'problem', error)}") from None
    return pipeline_from_dict(data, file, Path(file).resolve().parent, _line_index(text))


def pipeline_from_dict(data: Any, file: str, base: Path, lines: dict[tuple, int] | None = None) -> Pipeline:
    """Validate a pipeline given as data (what a YAML file holds); `file` names it in errors, `base`
    resolves relative paths. Commands such as `chardial import` build their pipelines this way."""
    errors = _Errors(file, lines or {})
    if not isinstance(data, dict):
        raise PipelineError(f"{file}: a pipeline is a YAML mapping with name, sources, operators, output")
    try:
        document = _Document.model_validate(data)
    except ValidationError as error:
        errors.add_validation((), error)
        raise PipelineError("\n".join(errors.items)) from None

    sources: list[Step] = []
    inputs: dict[int, list[str]] = {}
    for i, raw in enumerate(document.sources):
        step = _build_step(raw, ("sources", i), errors, i, want_source=True, base=base)
        if step is None:
            continue
        files, problems = resolve_paths(step.config.paths, base)  # type: ignore[attr-defined]
        for index, problem in problems:
            errors.add(("sources", i, "paths", index), problem)
        inputs[i] = files
        sources.append(step)

    operators: list[Step] = []
    available = set(DIALOGUE_COLUMNS)
    for i, raw in enumerate(document.operators):
        step = _build_step(raw, ("operators", i), errors, len(document.sources) + i, want_source=False, base=base)
        if step is None:
            continue
        missing = set(step.cls.reads) - available
        if missing:
            errors.add(("operators", i, "op"), f"{step.op} reads columns no earlier step provides: {sorted(missing)}")
        available |= {f.name for f in step.cls.new_fields}
        operators.append(step)

    if errors.items:
        raise PipelineError("\n".join(errors.items))
    skipped = _skip_unavailable(sources, operators)
    inputs = {step.index: inputs.get(step.index, []) for step in sources}
    if not sources:
        raise PipelineError(f"{file}: nothing to run: every source was skipped ({'; '.join(sorted({s['reason'] for s in skipped}))})")
    return Pipeline(
        path=file,
        name=document.name,
        description=document.description,
        sources=sources,
        operators=operators,
        output=document.output,
        execution=document.execution,
        inputs=inputs,
        skipped=skipped,
    )


def _skip_unavailable(sources: list[Step], operators: list[Step]) -> list[dict[str, str]]:
    """Drop steps that cannot run here (an LLM step with no endpoint), and sources that only feed them.

    An operator says why it cannot run through `skip_reason(config)`; a source that only makes sense with
    such steps declares `needs_llm`. Returns what was skipped and why, in place."""
    skipped: list[dict[str, str]] = []
    llm_steps = [s for s in operators if getattr(s.cls, "uses_llm", False)]
    for step in list(operators):
        reason = step.cls.skip_reason(step.config) if hasattr(step.cls, "skip_reason") else None
        if reason:
            operators.remove(step)
            skipped.append({"step": step.where, "op": step.op, "reason": reason})
    if llm_steps and not any(s in operators for s in llm_steps):
        for step in list(sources):
            if getattr(step.cls, "needs_llm", False):
                sources.remove(step)
                skipped.append({"step": step.where, "op": step.op, "reason": skipped[-1]["reason"] if skipped else "no LLM step runs"})
    return skipped
