"""Build small published run folders (corpus/, rejects/, manifest.json) with the real schemas, for tests."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from schemas.arrow import to_arrow_row
from schemas.records import Character, Dialogue, Quality, Reject, Turn
from schemas.run import Ledger, OperatorLedger, RunManifest, Shard
from schemas.tables import DIALOGUE_SCHEMA, REJECT_SCHEMA


def dialogue(
    number: int,
    *,
    name: str = "Lin Hui",
    category: str = "fictional",
    scenario: str = "chit_chat",
    source: str = "synthesis",
    language: str = "en",
    split: str | None = "train",
    texts: Sequence[str] = ("Hello there.", "Hi, nice to meet you."),
    quality: dict[str, float] | None = None,
    dup_cluster_id: str | None = None,
) -> Dialogue:
    """A valid dialogue; turns alternate user/character over `texts`."""
    turns = [Turn(role="user" if index % 2 == 0 else "character", speaker="user" if index % 2 == 0 else name, text=text)
             for index, text in enumerate(texts)]
    return Dialogue(
        dialogue_id=f"d{number:04d}",
        character_id=f"c-{name.lower().replace(' ', '-')}-{category}",
        character=Character(name=name, category=category),  # type: ignore[arg-type]
        scenario=scenario,  # type: ignore[arg-type]
        language=language,
        turns=turns,
        source=source,  # type: ignore[arg-type]
        split=split,  # type: ignore[arg-type]
        quality=Quality(**quality) if quality is not None else None,
        dup_cluster_id=dup_cluster_id,
    )


def reject(operator: str, reason: str, number: int, duplicate_of: str | None = None) -> Reject:
    """A reject as the pipeline writes it."""
    return Reject(operator=operator, reason=reason, detail=f"{reason} (test)", input_file="in.jsonl", input_line=number,
                  dialogue_id=f"r{number:04d}", duplicate_of=duplicate_of, record="{}")


def _arrow_row(record: Dialogue | Reject, run_id: str) -> dict:
    row = to_arrow_row(record)
    row["pipeline_run_id"] = run_id
    return row


def _write(path: Path, rows: list[dict], schema: pa.Schema, folder: Path) -> Shard:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)
    return Shard(path=str(path.relative_to(folder)), rows=len(rows), bytes=path.stat().st_size, sha256="0" * 64)


def write_run(
    folder: Path,
    dialogues: Sequence[Dialogue],
    rejects: Sequence[Reject] = (),
    *,
    steps: Sequence[str] = ("read.jsonl", "filters.length", "dedup.exact"),
    run_id: str = "run-test",
    shards: int = 2,
) -> RunManifest:
    """Write corpus/ (in `shards` files), rejects/ and a manifest whose ledger chains through `steps` in order."""
    corpus_rows = [_arrow_row(d, run_id) for d in dialogues]
    reject_rows = [_arrow_row(r, run_id) for r in rejects]
    per_shard = max(1, -(-len(corpus_rows) // shards))
    written = {
        "corpus": [_write(folder / "corpus" / f"part-{index:05d}.parquet", corpus_rows[start:start + per_shard], DIALOGUE_SCHEMA, folder)
                   for index, start in enumerate(range(0, max(len(corpus_rows), 1), per_shard))],
        "rejects": [_write(folder / "rejects" / "part-00000.parquet", reject_rows, REJECT_SCHEMA, folder)],
    }
    unknown = {r.operator for r in rejects} - set(steps)
    if unknown:
        raise ValueError(f"rejects name operators not in steps: {sorted(unknown)}")
    live = len(dialogues) + len(rejects)
    operators = []
    for number, operator in enumerate(steps):
        by_reason = Counter(r.reason for r in rejects if r.operator == operator)
        rejected = sum(by_reason.values())
        operators.append(OperatorLedger(operator=operator, step=number, input=live, output=live - rejected, rejected=rejected,
                                        by_reason=dict(by_reason)))
        live -= rejected
    manifest = RunManifest(
        run_id=run_id,
        pipeline="pipelines/test.yaml",
        pipeline_name="test",
        pipeline_hash="0" * 64,
        code_version="0.1.0",
        schema_version="1.0.0",
        started_at="2026-11-27T10:00:00Z",
        finished_at="2026-11-27T10:05:00Z",
        timings_s={"total": 300.0},
        inputs=["in.jsonl"],
        shards=written,
        ledger=Ledger(input=len(dialogues) + len(rejects), output=len(dialogues), rejected=len(rejects), operators=operators, balanced=True),
        spec={},
    )
    (folder / "manifest.json").write_text(manifest.model_dump_json(indent=2), encoding="utf-8")
    return manifest


def sample_corpus() -> list[Dialogue]:
    """Six dialogues over three characters, two languages, every split state, some scored."""
    return [
        dialogue(1, name="Li Bai", category="celebrity", scenario="interview", language="zh", texts=["你好", "在下李白", "久仰", "请坐"],
                 quality={"overall": 4.5, "safety": 5.0}),
        dialogue(2, name="Li Bai", category="celebrity", scenario="chit_chat", language="zh", split="test", quality={"overall": 1.2}),
        dialogue(3, name="Li Bai", category="celebrity", scenario="interview", language="en", source="extraction"),
        dialogue(4, name="Ms Chen", category="daily_life", scenario="companionship", language="zh", split="validation"),
        dialogue(5, name="Holmes", category="fictional", scenario="chit_chat", language="en", source="human_roleplay",
                 texts=["x" * 250, "y" * 9, "z"]),
        dialogue(6, name="Holmes", category="fictional", scenario="other", language="en", split=None),
    ]


def sample_rejects() -> list[Reject]:
    """Rejects from a reader, a filter with two reasons and exact dedup (two clusters)."""
    return [
        reject("read.jsonl", "invalid_json", 20),
        reject("filters.length", "too_few_turns", 21),
        reject("filters.length", "too_few_turns", 22),
        reject("filters.length", "too_long", 23),
        reject("dedup.exact", "duplicate", 24, duplicate_of="d0001"),
        reject("dedup.exact", "duplicate", 25, duplicate_of="d0001"),
        reject("dedup.exact", "duplicate", 26, duplicate_of="d0004"),
    ]
