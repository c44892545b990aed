"""Character-reply dedup (`dedup.replies`) in-process on one core: dialogues/s and peak RSS, against plain Python dicts.

    python -m benchmarks.dedup_replies --dialogues 200000

The corpus (`benchmarks.corpus.reply_reuse_corpus`: zh + en, 30% of dialogues templated, each of their
character turns one of 200 stock replies per language with probability 0.6, written with varying case,
punctuation or width) is written to Parquet first by a child process (not timed). Each side then runs in
a child process of its own, so its peak RSS (ru_maxrss) is its own; Arrow and polars get one thread.
Every side reads the same Parquet in blocks of `--rows-per-block`:

- read-only: the floor of peak RSS: imports, the input read and spilled as for ours, no step.

- ours: `ReplyDedup.stream` as the in-process executor runs it: the blocks spilled to an Arrow file
  first (timed apart, as `read`), then the step (normalise + hash per block, reply rows spilled, shared
  keys, policy order, greedy verdicts, every block marked). Timed: the step.
- dict, Python normalisation: what one writes first: per character turn NFKC + lower case in Python,
  punctuation, symbols and controls to spaces by Unicode category, white space collapsed; one dict from
  normalised reply to the first dialogue that said it (arrival order, not policy); a dialogue's later
  replies found in the dict are reused. Single pass; same thresholds.
- dict over Arrow normalize(): the same dict, but the texts normalised per block by our vectorised
  `shingles.normalize` (separates the cost of normalising from the cost of the rest).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import unicodedata
from collections.abc import Iterator
from pathlib import Path

from benchmarks.dedup_end_to_end import run_child

SIDES = ("read-only", "ours", "dict-python", "dict-arrow")


def _blocks(path: str, rows: int) -> Iterator:
    import pyarrow.parquet as pq

    yield from pq.ParquetFile(path).iter_batches(batch_size=rows, columns=["dialogue_id", "turns", "source", "quality"])


def _python_normalize(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text).lower()
    return " ".join("".join(" " if unicodedata.category(ch)[0] in "PSCZ" else ch for ch in folded).split())


def _dict_side(path: str, rows: int, vectorised: bool) -> dict:
    """The plain-dict baseline: first come, first served."""
    import pyarrow as pa

    from operators.dedup.replies import ReplyDedupConfig
    from operators.dedup.shingles import normalize

    config = ReplyDedupConfig()
    start, cpu = time.perf_counter(), time.process_time()
    owner: dict[str, str] = {}
    dialogues = rejected = reused_dialogues = 0
    for batch in _blocks(path, rows):
        uids = batch.column("dialogue_id").to_pylist()
        turns = batch.column("turns").to_pylist()
        texts = [[t["text"] or "" for t in dialogue or [] if t["role"] == "character"] for dialogue in turns]
        if vectorised:
            flat = normalize(pa.array([text for replies in texts for text in replies], pa.string())).to_pylist()
            position = 0
            normal = []
            for replies in texts:
                normal.append(flat[position : position + len(replies)])
                position += len(replies)
        else:
            normal = [[_python_normalize(text) for text in replies] for replies in texts]
        for uid, replies in zip(uids, normal, strict=True):
            dialogues += 1
            counted = [text for text in replies if len(text.replace(" ", "")) >= config.min_chars]
            reused = sum(1 for text in counted if owner.get(text, uid) != uid)
            for text in counted:
                owner.setdefault(text, uid)
            if reused:
                reused_dialogues += 1
                rejected += int(reused >= config.min_reused and reused / len(replies) >= config.min_reused_frac)
    return {
        "step_s": time.perf_counter() - start,
        "step_cpu_s": time.process_time() - cpu,
        "dialogues": dialogues,
        "reusing": reused_dialogues,
        "rejected": rejected,
    }


def _ours(path: str, rows: int, folder: str, step: bool = True) -> dict:
    import pyarrow as pa
    import pyarrow.compute as pc

    from operators.columns import conform, working_schema
    from operators.dedup.replies import ReplyDedup
    from pipelines.spill import SpilledBlocks

    operator = ReplyDedup()
    schema = working_schema(operator.new_fields)
    start = time.perf_counter()
    store = SpilledBlocks(Path(folder) / "input.arrow", schema).extend(
        conform(pa.Table.from_batches([b]), schema) for b in _blocks(path, rows)
    )
    read = time.perf_counter() - start
    if not step:  # the floor: the same imports, the input read and spilled, nothing else
        return {"step_s": None, "read_s": read}

    def spill(name: str, tables) -> SpilledBlocks:
        return SpilledBlocks(Path(folder) / f"{name}.arrow").extend(tables)

    start, cpu = time.perf_counter(), time.process_time()
    dialogues = rejected = reusing = 0
    for block in operator.stream(store, spill):
        dialogues += block.num_rows
        rejected += pc.sum(pc.is_valid(block.column("_reject_reason"))).as_py()
        reusing += pc.sum(pc.greater(block.column("reply_reused_count"), 0)).as_py()
    return {
        "step_s": time.perf_counter() - start,
        "step_cpu_s": time.process_time() - cpu,
        "read_s": read,
        "dialogues": dialogues,
        "reusing": reusing,
        "rejected": rejected,
    }


def worker(side: str, path: str, rows: int) -> None:
    import pyarrow as pa

    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)
    with tempfile.TemporaryDirectory() as folder:
        if side in ("ours", "read-only"):
            result = _ours(path, rows, folder, step=side == "ours")
        else:
            result = _dict_side(path, rows, vectorised=side == "dict-arrow")
    print("RESULT " + json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dialogues", type=int, nargs="+", default=[200_000], help="Corpus sizes to run.")
    parser.add_argument("--rows-per-block", type=int, default=10_000, help="Rows per block read (the executor's rows_per_block).")
    parser.add_argument("--sides", nargs="+", choices=SIDES, default=list(SIDES))
    parser.add_argument("--worker", nargs=2, metavar=("SIDE", "PATH"), help=argparse.SUPPRESS)
    parser.add_argument("--corpus-worker", nargs=2, metavar=("SIZE", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.corpus_worker:
        import pyarrow.parquet as pq

        from benchmarks.corpus import as_corpus, reply_reuse_corpus

        size, path = args.corpus_worker
        # Row groups of block size: a reader decodes a whole row group, so one big group would set the RSS floor.
        pq.write_table(as_corpus(reply_reuse_corpus(int(size), seed=1), "generated"), path, row_group_size=args.rows_per_block)
        return
    if args.worker:
        worker(args.worker[0], args.worker[1], args.rows_per_block)
        return
    os.environ["POLARS_MAX_THREADS"] = "1"  # inherited by the children: one core each
    # Throughput on the step's CPU seconds (one thread, so CPU = wall on an idle core): on a shared machine
    # wall time also counts the time spent waiting for a core.
    print("| dialogues | side | step CPU s | step wall s | dialogues per CPU s | child CPU s | peak RSS MiB | reusing | rejected |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as folder:
        for size in args.dialogues:
            source = Path(folder) / f"in-{size}.parquet"
            run_child([sys.executable, "-m", "benchmarks.dedup_replies", "--corpus-worker", str(size), str(source)])
            rates = {}
            for side in args.sides:
                command = [
                    sys.executable,
                    "-m",
                    "benchmarks.dedup_replies",
                    "--rows-per-block",
                    str(args.rows_per_block),
                    "--worker",
                    side,
                    str(source),
                ]
                _, cpu, rss, tail = run_child(command)
                result = json.loads(tail.split("RESULT ", 1)[1])
                name = side + (f" (+{result['read_s']:.1f} s read and spill)" if "read_s" in result else "")
                if result["step_s"] is None:
                    print(f"| {size} | {name} | - | - | - | {cpu:.1f} | {rss:.0f} | - | - |", flush=True)
                    continue
                rates[side] = result["dialogues"] / result["step_cpu_s"]
                print(
                    f"| {size} | {name} | {result['step_cpu_s']:.1f} | {result['step_s']:.1f} | {rates[side]:,.0f} | {cpu:.1f} | {rss:.0f} "
                    f"| {result['reusing']} | {result['rejected']} |",
                    flush=True,
                )
            if "ours" in rates:
                for side in sorted(rates.keys() - {"ours"}):
                    print(f"\n{size}: ours / {side} throughput (per CPU second) = {rates['ours'] / rates[side]:.2f}x")


if __name__ == "__main__":
    main()
