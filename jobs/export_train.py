"""Export a curated corpus for training: SFT conversations and DPO pairs in TRL's conversational format.

`export_sft` reads `CORPUS_DIR/corpus/*.parquet` (the dialogue table) and writes one Parquet file per
split with a `messages` column: a system message rendered from the character's profile, the user's role
and the scenario through a versioned Jinja template (`jobs/templates/system_prompt/<version>.<lang>.jinja`),
then the turns, character turns as `assistant` and every other speaker as `user`. `export_dpo` reads
`CORPUS_DIR/pairs/*.parquet` (the preference-pair table) and writes `prompt`/`chosen`/`rejected`.

Splits are the corpus's own (`split`, assigned by character); a character found in two splits is an error,
because it would leak into evaluation. Rows that cannot train anything (no character turn, identical
replies) go to `skipped.parquet` with a reason, and `export.json` counts everything, so nothing is lost
silently. The output folder is written next to its final place and renamed into it when complete.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import tempfile
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import jinja2
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel

from schemas.arrow import from_arrow_row
from schemas.records import SPLITS, Character, Dialogue, PreferencePair, Turn
from schemas.tables import validate_record

TEMPLATE_DIR = Path(__file__).parent / "templates" / "system_prompt"
DEFAULT_TEMPLATE = "v1"
EXPORT_FORMAT_VERSION = "1"
BATCH_ROWS = 1024

Unassigned = Literal["train", "skip", "error"]

MESSAGE = pa.struct(
    [
        pa.field("role", pa.string(), nullable=False),
        pa.field("content", pa.string(), nullable=False),
        pa.field("name", pa.string()),
    ]
)
MESSAGES = pa.list_(MESSAGE)

_PROVENANCE = [
    pa.field("character_id", pa.string(), nullable=False),
    pa.field("character_name", pa.string(), nullable=False),
    pa.field("language", pa.string(), nullable=False),
    pa.field("scenario", pa.string(), nullable=False),
    pa.field("split", pa.string(), nullable=False),
    pa.field("system_template", pa.string(), nullable=False),
]
SFT_SCHEMA = pa.schema(
    [
        pa.field("messages", MESSAGES, nullable=False),
        pa.field("dialogue_id", pa.string(), nullable=False),
        *_PROVENANCE,
        pa.field("source", pa.string()),
    ]
)
DPO_SCHEMA = pa.schema(
    [
        pa.field("prompt", MESSAGES, nullable=False),
        pa.field("chosen", MESSAGES, nullable=False),
        pa.field("rejected", MESSAGES, nullable=False),
        pa.field("pair_id", pa.string(), nullable=False),
        pa.field("dialogue_id", pa.string()),
        *_PROVENANCE,
        pa.field("pair_source", pa.string()),
        pa.field("margin", pa.float64()),
    ]
)
SKIPPED_SCHEMA = pa.schema(
    [
        pa.field("record_id", pa.string()),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("detail", pa.string()),
        pa.field("input_file", pa.string(), nullable=False),
        pa.field("input_row", pa.int64(), nullable=False),
    ]
)


class ExportError(ValueError):
    """The corpus cannot be exported as asked; the message names the file, row and fix."""


class SystemPrompt:
    """The versioned system-prompt template, one file per language: `<version>.<lang>.jinja`."""

    def __init__(self, version: str = DEFAULT_TEMPLATE, template_dir: Path | None = None):
        self.version = version
        self.template_dir = Path(template_dir) if template_dir else TEMPLATE_DIR
        languages = sorted(p.name.split(".")[1] for p in self.template_dir.glob(f"{version}.*.jinja"))
        if "en" not in languages:
            raise ExportError(
                f"no system prompt template {version}.en.jinja in {self.template_dir} (found: {', '.join(languages) or 'none'})"
            )
        self.languages = languages
        environment = jinja2.Environment(
            loader=jinja2.FileSystemLoader(self.template_dir),
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=False,
            autoescape=False,
        )
        self._templates = {lang: environment.get_template(f"{version}.{lang}.jinja") for lang in languages}

    def template_id(self, language: str) -> str:
        """`<version>.<lang>`: the template a dialogue in `language` is rendered with (English when none matches)."""
        base = language.lower().replace("_", "-").split("-")[0]
        return f"{self.version}.{base if base in self._templates else 'en'}"

    def render(self, character: Character, user_role: str | None, scenario: str, language: str) -> tuple[str, str]:
        """The system message for one dialogue, and the id of the template that rendered it."""
        template_id = self.template_id(language)
        text = self._templates[template_id.split(".")[1]].render(character=character, user_role=user_role, scenario=scenario)
        return text.strip(), template_id


def turns_to_messages(turns: list[Turn]) -> list[dict[str, str | None]]:
    """Turns as chat messages: character -> assistant, everyone else -> user.

    Consecutive turns of the same role are merged (many chat templates insist on alternation). When more
    than one person speaks on the user side (a multi-party scene), user lines are prefixed `Name: ` because
    most chat templates drop the `name` field; `name` keeps the speaker whenever a message has exactly one.
    """
    multi_party = len({t.speaker for t in turns if t.role != "character"}) > 1
    messages: list[dict[str, Any]] = []
    for turn in turns:
        role = "assistant" if turn.role == "character" else "user"
        line = f"{turn.speaker}: {turn.text}" if multi_party and role == "user" else turn.text
        if messages and messages[-1]["role"] == role:
            previous = messages[-1]
            previous["content"] += "\n" + line
            if previous["name"] != turn.speaker:
                previous["name"] = None
        else:
            messages.append({"role": role, "content": line, "name": turn.speaker})
    return messages


@dataclass
class ExportReport:
    """What an export wrote and skipped; saved as `export.json` next to the files."""

    kind: str
    corpus_dir: str
    out_dir: str
    system_template: str
    unassigned: str
    rows: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    unassigned_rows: int = 0
    input_files: list[str] = field(default_factory=list)
    format_version: str = EXPORT_FORMAT_VERSION
    created_at: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


class _SplitWriters:
    """One Parquet file per split (`<split>.parquet`), opened on first use, rows buffered into row groups."""

    def __init__(self, directory: Path, schema: pa.Schema):
        self.directory, self.schema = directory, schema
        self._writers: dict[str, pq.ParquetWriter] = {}
        self._buffers: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.counts: Counter[str] = Counter()

    def add(self, split: str, row: dict[str, Any]) -> None:
        self._buffers[split].append(row)
        self.counts[split] += 1
        if len(self._buffers[split]) >= BATCH_ROWS:
            self._flush(split)

    def _flush(self, split: str) -> None:
        rows = self._buffers.pop(split, [])
        if not rows:
            return
        if split not in self._writers:
            self._writers[split] = pq.ParquetWriter(self.directory / f"{split}.parquet", self.schema)
        self._writers[split].write_table(pa.Table.from_pylist(rows, schema=self.schema))

    def close(self) -> None:
        for split in list(self._buffers):
            self._flush(split)
        for writer in self._writers.values():
            writer.close()


def _input_files(corpus_dir: Path, table: str) -> list[Path]:
    folder = corpus_dir / table
    files = sorted(folder.glob("*.parquet")) if folder.is_dir() else []
    if not files:
        raise ExportError(f"{corpus_dir}: no {table}/*.parquet found; pass the output folder of a `chardial run` (it holds {table}/)")
    return files


def _records(files: list[Path], model: type[BaseModel], root: Path) -> Iterator[tuple[Any, str, int]]:
    """Validated records with their file (relative to the corpus) and 0-based row; a bad row stops the export."""
    for path in files:
        name = path.relative_to(root).as_posix()
        row_index = 0
        for batch in pq.ParquetFile(path).iter_batches(batch_size=BATCH_ROWS):
            for row in batch.to_pylist():
                # Dropping unknown columns keeps exports working on corpora with extra pipeline columns.
                data = from_arrow_row(model, {k: v for k, v in row.items() if k in model.model_fields})
                record = validate_record(model, data, f"{name} row {row_index}")
                yield record, name, row_index
                row_index += 1


class _SplitPolicy:
    """Applies the corpus's split, the unassigned-row policy and the character-disjointness check."""

    def __init__(self, unassigned: Unassigned):
        self.unassigned = unassigned
        self.unassigned_rows = 0
        self._split_of: dict[str, tuple[str, str]] = {}

    def split(self, split: str | None, character_id: str, name: str, where: str) -> str | None:
        if split is None:
            if self.unassigned == "error":
                raise ExportError(
                    f"{where}: no split assigned (character {name!r}); assign splits in the pipeline or pass --unassigned train|skip"
                )
            self.unassigned_rows += 1
            if self.unassigned == "skip":
                return None
            split = self.unassigned
        seen = self._split_of.setdefault(character_id, (split, where))
        if seen[0] != split:
            raise ExportError(
                f"{where}: character {name!r} ({character_id}) is in split {split!r} but {seen[1]} put it in {seen[0]!r}; "
                "splits must be assigned by character so evaluation never sees a training character"
            )
        return split


def _publish(out_dir: Path, overwrite: bool, write: Callable[[Path], ExportReport]) -> ExportReport:
    """Write into a temporary sibling folder and rename it into place only when the export is complete."""
    if out_dir.exists() and not overwrite:
        raise ExportError(f"{out_dir} already exists; pass --overwrite to replace it")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        report = write(staging)
        report_dict = asdict(report) | {"total_rows": report.total_rows}
        (staging / "export.json").write_text(json.dumps(report_dict, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        if out_dir.exists():
            shutil.rmtree(out_dir)
        staging.rename(out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return report


def export_sft(
    corpus_dir: Path,
    out_dir: Path,
    *,
    template: str = DEFAULT_TEMPLATE,
    template_dir: Path | None = None,
    unassigned: Unassigned = "train",
    overwrite: bool = False,
    on_file: Callable[[str], None] | None = None,
) -> ExportReport:
    """Write `<split>.parquet` files of conversations (`messages`) from the corpus's dialogue table."""
    prompt = SystemPrompt(template, template_dir)

    def conversation(dialogue: Dialogue, split: str) -> dict[str, Any] | tuple[str, str]:
        messages = turns_to_messages(dialogue.turns)
        while messages and messages[-1]["role"] == "user":
            messages.pop()  # a trailing user turn has no reply to learn
        if not any(m["role"] == "assistant" for m in messages):
            return "no_character_turn", "the dialogue has no character turn to learn"
        system, template_id = prompt.render(dialogue.character, dialogue.user_role, dialogue.scenario, dialogue.language)
        return {
            "messages": [{"role": "system", "content": system, "name": None}, *messages],
            "dialogue_id": dialogue.dialogue_id,
            "character_id": dialogue.character_id,
            "character_name": dialogue.character.name,
            "language": dialogue.language,
            "scenario": dialogue.scenario,
            "split": split,
            "system_template": template_id,
            "source": dialogue.source,
        }

    return _export("sft", "corpus", Dialogue, "dialogue_id", SFT_SCHEMA, conversation, Path(corpus_dir), Path(out_dir), template, unassigned, overwrite, on_file)


def export_dpo(
    corpus_dir: Path,
    out_dir: Path,
    *,
    template: str = DEFAULT_TEMPLATE,
    template_dir: Path | None = None,
    unassigned: Unassigned = "train",
    overwrite: bool = False,
    on_file: Callable[[str], None] | None = None,
) -> ExportReport:
    """Write `<split>.parquet` files of `prompt`/`chosen`/`rejected` conversations from the corpus's pairs table."""
    prompt = SystemPrompt(template, template_dir)

    def preference(pair: PreferencePair, split: str) -> dict[str, Any] | tuple[str, str]:
        if pair.chosen.text.strip() == pair.rejected.text.strip():
            return "identical_replies", "chosen and rejected replies are the same text"
        system, template_id = prompt.render(pair.character, pair.user_role, pair.scenario, pair.language)
        return {
            "prompt": [{"role": "system", "content": system, "name": None}, *turns_to_messages(pair.context)],
            "chosen": [{"role": "assistant", "content": pair.chosen.text, "name": pair.chosen.speaker}],
            "rejected": [{"role": "assistant", "content": pair.rejected.text, "name": pair.rejected.speaker}],
            "pair_id": pair.pair_id,
            "dialogue_id": pair.dialogue_id,
            "character_id": pair.character_id,
            "character_name": pair.character.name,
            "language": pair.language,
            "scenario": pair.scenario,
            "split": split,
            "system_template": template_id,
            "pair_source": pair.pair_source,
            "margin": pair.margin,
        }

    return _export("dpo", "pairs", PreferencePair, "pair_id", DPO_SCHEMA, preference, Path(corpus_dir), Path(out_dir), template, unassigned, overwrite, on_file)


def _export(
    kind: str,
    table: str,
    model: type[Dialogue] | type[PreferencePair],
    id_field: str,
    schema: pa.Schema,
    convert: Callable[[Any, str], dict[str, Any] | tuple[str, str]],
    corpus_dir: Path,
    out_dir: Path,
    template: str,
    unassigned: Unassigned,
    overwrite: bool,
    on_file: Callable[[str], None] | None,
) -> ExportReport:
    """The export loop both kinds share: each record of `table` gets its split (or is skipped as
    unassigned), then `convert(record, split)` gives its output row or a (reason, detail) to skip it."""
    files = _input_files(corpus_dir, table)

    def write(staging: Path) -> ExportReport:
        report = ExportReport(kind, str(corpus_dir), str(out_dir), template, unassigned, input_files=[f.name for f in files])
        writers, skipped, policy = _SplitWriters(staging, schema), _SplitWriters(staging, SKIPPED_SCHEMA), _SplitPolicy(unassigned)
        current = None
        for record, name, row in _records(files, model, corpus_dir):
            if on_file and name != current:
                current = name
                on_file(name)
            record_id = getattr(record, id_field)
            split = policy.split(record.split, record.character_id, record.character.name, f"{name} row {row}")
            if split is None:
                skipped.add("skipped", _skip(record_id, "unassigned_split", None, name, row))
                continue
            out = convert(record, split)
            if isinstance(out, tuple):
                skipped.add("skipped", _skip(record_id, *out, name, row))
            else:
                writers.add(split, out)
        writers.close()
        skipped.close()
        return _finish(report, writers, skipped, policy, staging)

    return _publish(out_dir, overwrite, write)


def _skip(record_id: str, reason: str, detail: str | None, name: str, row: int) -> dict[str, Any]:
    return {"record_id": record_id, "reason": reason, "detail": detail, "input_file": name, "input_row": row}


def _finish(report: ExportReport, writers: _SplitWriters, skipped: _SplitWriters, policy: _SplitPolicy, staging: Path) -> ExportReport:
    if not writers.counts:
        raise ExportError(f"{report.corpus_dir}: nothing to export ({sum(skipped.counts.values())} rows skipped; see the reasons above)")
    report.rows = {split: writers.counts[split] for split in SPLITS if split in writers.counts}
    report.unassigned_rows = policy.unassigned_rows
    if skipped.counts:
        table = pq.read_table(staging / "skipped.parquet", columns=["reason"])
        report.skipped = dict(Counter(table.column("reason").to_pylist()))
    return report
