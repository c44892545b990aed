"""Time compute_stats and build_report on a synthetic run folder, against a plain pyarrow read of the same columns.

    python -m benchmarks.bench_stats --dialogues 200000 --repeat 3

The baseline is the I/O floor: reading the columns the stats need (corpus and rejects) into Arrow, nothing else.
"""

from __future__ import annotations

import argparse
import random
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from benchmarks.timing import best
from pipelines.report import build_report
from pipelines.stats import compute_stats, write_stats
from schemas.records import CATEGORIES, SCENARIOS, SOURCES
from schemas.run import Ledger, OperatorLedger, RunManifest
from schemas.tables import DIALOGUE_SCHEMA, REJECT_SCHEMA

TEXT = "The quick brown fox jumps over the lazy dog while the character answers in kind. " * 20
TEXT_ZH = "我们今天去哪里吃饭呢？你说的那家店我还没去过，听说很不错。" * 20


def _dialogue(index: int, rng: random.Random) -> dict:
    language = rng.choice(("en", "zh"))
    base = TEXT if language == "en" else TEXT_ZH
    character = int(rng.paretovariate(1.2)) % 20000  # a long tail of characters
    turns = [{"role": "user" if t % 2 == 0 else "character", "speaker": "u" if t % 2 == 0 else f"c{character}",
              "text": base[(start := rng.randrange(200)): start + rng.randint(5, 400)], "spans": None, "author_id": None} for t in range(rng.randint(2, 24))]
    scored = rng.random() < 0.5
    return {
        "dialogue_id": f"d{index}", "character_id": f"c{character}",
        "character": {"name": f"Character {character}", "category": CATEGORIES[character % 4], "work": None,
                      "attributes": {"gender": None, "age": None, "occupation": None, "relationships": [], "experiences": [], "hobbies": [], "extra": []},
                      "styles": {"speaking_style": None, "catchphrases": [], "example_lines": []}, "profile_text": None},
        "user_role": None, "scenario": rng.choice(SCENARIOS), "language": language, "turns": turns, "source": rng.choice(SOURCES),
        "source_ref": None, "content_hash": None,
        "quality": {"consistency": rng.uniform(1, 5), "human_likeness": None, "engagement": None, "quality": None, "safety": None,
                    "correctness": None, "overall": rng.uniform(1, 5), "scorer": "bench"} if scored else None,
        "dup_cluster_id": None, "split": rng.choice(("train", "train", "train", "validation", "test")), "meta": [], "pipeline_run_id": "bench",
    }


def make_run(folder: Path, dialogues: int, shards: int = 4, seed: int = 0) -> None:
    """A run folder with `dialogues` corpus rows, a tenth as many rejects and a matching manifest."""
    rng = random.Random(seed)
    per_shard = -(-dialogues // shards)
    (folder / "corpus").mkdir(parents=True)
    for shard in range(shards):
        rows = [_dialogue(i, rng) for i in range(shard * per_shard, min(dialogues, (shard + 1) * per_shard))]
        pq.write_table(pa.Table.from_pylist(rows, schema=DIALOGUE_SCHEMA), folder / "corpus" / f"part-{shard:05d}.parquet")
    rejected = dialogues // 10
    rejects = [{"operator": "dedup.exact" if i % 2 else "filters.length", "reason": "duplicate" if i % 2 else "too_few_turns",
                "detail": None, "input_file": "in.jsonl", "input_line": i, "dialogue_id": f"r{i}",
                "duplicate_of": f"d{rng.randrange(dialogues)}" if i % 2 else None, "record": "{}", "pipeline_run_id": "bench"}
               for i in range(rejected)]
    (folder / "rejects").mkdir()
    pq.write_table(pa.Table.from_pylist(rejects, schema=REJECT_SCHEMA), folder / "rejects" / "part-00000.parquet")
    total = dialogues + rejected
    dedup, length = rejected // 2, rejected - rejected // 2
    steps = [OperatorLedger(operator="read.jsonl", step=0, input=total, output=total, rejected=0),
             OperatorLedger(operator="filters.length", step=1, input=total, output=total - length, rejected=length, by_reason={"too_few_turns": length}),
             OperatorLedger(operator="dedup.exact", step=2, input=total - length, output=dialogues, rejected=dedup, by_reason={"duplicate": dedup})]
    manifest = RunManifest(run_id="bench", pipeline="bench.yaml", pipeline_name="bench", pipeline_hash="0" * 64, code_version="bench",
                           schema_version="1.0.0", started_at="2026-11-27T00:00:00Z", finished_at="2026-11-27T00:01:00Z", timings_s={},
                           inputs=[], shards={}, spec={},
                           ledger=Ledger(input=total, output=dialogues, rejected=rejected, operators=steps, balanced=True))
    (folder / "manifest.json").write_text(manifest.model_dump_json(), encoding="utf-8")



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dialogues", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "run"
        make_run(folder, args.dialogues)
        corpus_bytes = sum(p.stat().st_size for p in (folder / "corpus").glob("*.parquet"))
        columns = ["dialogue_id", "character_id", "character", "scenario", "source", "language", "split", "turns", "quality"]

        def baseline() -> None:
            pq.read_table(folder / "corpus", columns=columns)
            pq.read_table(folder / "rejects", columns=["operator", "reason", "duplicate_of"])

        read_s = best(args.repeat, baseline)
        stats_s = best(args.repeat, lambda: compute_stats(folder))
        write_stats(folder, compute_stats(folder))
        report_s = best(args.repeat, lambda: build_report(folder))
        print(f"corpus: {args.dialogues:,} dialogues, {corpus_bytes / 1e6:.0f} MB Parquet in 4 shards; best of {args.repeat}")
        print(f"baseline pyarrow read of the needed columns: {read_s:.2f}s")
        print(f"compute_stats: {stats_s:.2f}s ({stats_s / read_s:.1f}x the read; {args.dialogues / stats_s:,.0f} dialogues/s)")
        print(f"build_report (from published stats): {report_s:.2f}s")


if __name__ == "__main__":
    main()
