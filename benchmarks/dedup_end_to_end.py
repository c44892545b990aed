"""End-to-end dedup: `chardial dedup` on generated dialogues, wall time and peak RSS, against a datasketch baseline.

    python -m benchmarks.dedup_end_to_end --dialogues 100000

The corpus (benchmarks/corpus.py: zh + en, 20% planted near-duplicates) is written to Parquet first
(not timed), by a child process of its own: Linux carries a process's peak RSS across fork/exec into
its children's `ru_maxrss`, so a parent that once held the 1M corpus made every side look 5 GB big.
This process stays small; each side runs in its own process, so its peak RSS (ru_maxrss) is its own:

- ours: `chardial dedup IN --out OUT` (read, exact dedup, MinHash dedup, write the run), in-process engine.
- datasketch: read the same Parquet, the same shingles (our tokenizer), `MinHash.bulk`, and a
  `MinHashLSH(threshold, num_perm=128)` queried before each insert (the usual datasketch dedup loop:
  a dialogue is a duplicate when the index already holds a candidate); no writing.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq

from benchmarks.corpus import as_corpus, corpus


def run_child(command: list[str]) -> tuple[float, float, float, str]:
    """Wall seconds, CPU seconds, peak RSS (MiB) and the output tail of one child process (os.wait4: that child's rusage)."""
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as log:
        child = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "COLUMNS": "200"})
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - start
        log.seek(0)
        output = log.read()
    if status != 0:
        raise RuntimeError(f"{' '.join(command[:4])} failed (status {status}):\n{output[-3000:]}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, " ".join(output.split())[-400:]


def datasketch_baseline(path: str, threshold: float) -> None:
    """The datasketch side (run in a child process)."""
    from datasketch import MinHash, MinHashLSH

    from operators.dedup.minhash import MinHashDedupConfig
    from operators.dedup.shingles import dialogue_tokens, ngram_sizes, shingle_strings, windows

    config = MinHashDedupConfig()
    table = pq.read_table(path)
    lsh = MinHashLSH(threshold=threshold, num_perm=config.num_perm)
    duplicates = 0
    for start in range(0, table.num_rows, 20_000):
        part = table.slice(start, 20_000)
        tokens = dialogue_tokens(part)
        shingles = windows(tokens, ngram_sizes(tokens, config.word_ngram, config.char_ngram), config.max_shingles)
        strings = shingle_strings(tokens, shingles).to_pylist()
        sets = [[s.encode("utf-8") for s in strings[shingles.offsets[d] : shingles.offsets[d + 1]]] for d in range(part.num_rows)]
        for key, minhash in zip(
            part.column("dialogue_id").to_pylist(), MinHash.bulk(sets, num_perm=config.num_perm, seed=config.seed), strict=True
        ):
            if lsh.query(minhash):
                duplicates += 1
            else:
                lsh.insert(key, minhash)
    print(f"datasketch: {table.num_rows} dialogues, {duplicates} duplicates")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dialogues", type=int, nargs="+", default=[100_000], help="Corpus sizes to run.")
    parser.add_argument("--threshold", type=float, default=0.8)
    parser.add_argument("--skip-baseline", action="store_true", help="Only run ours.")
    parser.add_argument("--baseline-worker", help=argparse.SUPPRESS)
    parser.add_argument("--corpus-worker", nargs=2, metavar=("SIZE", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.baseline_worker:
        datasketch_baseline(args.baseline_worker, args.threshold)
        return
    if args.corpus_worker:
        size, path = args.corpus_worker
        pq.write_table(as_corpus(corpus(int(size), seed=1), "generated"), path)
        return
    # CPU seconds matter on a shared machine: wall time there also counts time spent waiting for a core.
    print("| dialogues | side | wall s | CPU s | peak RSS MiB | result |")
    print("|---:|---|---:|---:|---:|---|")
    with tempfile.TemporaryDirectory() as folder:
        for size in args.dialogues:
            source = Path(folder) / f"in-{size}.parquet"
            run_child([sys.executable, "-m", "benchmarks.dedup_end_to_end", "--corpus-worker", str(size), str(source)])
            ours = [
                sys.executable,
                "-c",
                "from jobs.cli_dedup import app; app()",
                str(source),
                "--out",
                str(Path(folder) / f"out-{size}"),
                "--threshold",
                str(args.threshold),
            ]
            sides = [("ours: chardial dedup (exact + MinHash, writes the run)", ours)]
            if not args.skip_baseline:
                baseline = [
                    sys.executable,
                    "-m",
                    "benchmarks.dedup_end_to_end",
                    "--baseline-worker",
                    str(source),
                    "--threshold",
                    str(args.threshold),
                ]
                sides.append(("datasketch MinHash.bulk + MinHashLSH (no writing)", baseline))
            for name, command in sides:
                wall, cpu, rss, tail = run_child(command)
                print(f"| {size} | {name} | {wall:.1f} | {cpu:.1f} | {rss:.0f} | {tail[-160:]} |", flush=True)


if __name__ == "__main__":
    main()
