"""Ray Data overhead: the same operator chain over N realistic dialogues, in-process vs through Ray Data.

    python benchmarks/pipeline_overhead.py --count 100000 --files 8 --num-cpus 2

Both runs read the same JSONL files and run read.jsonl -> normalize.text -> filters.length -> dedup.exact
-> split.by_character -> shard writer -> ledger -> publish. Prints dialogues/s for both and the ratio,
and (with --write-docs) updates the figures in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from jobs.loadgen import generate  # noqa: E402
from pipelines.execute import run_pipeline  # noqa: E402
from pipelines.spec import load_pipeline  # noqa: E402

CHAIN = """
name: overhead-benchmark
sources:
  - op: read.jsonl
    paths: [inputs/]
operators:
  - op: normalize.text
  - op: filters.length
  - op: dedup.exact
  - op: split.by_character
output:
  rows_per_shard: 50000
execution:
  rows_per_block: {rows_per_block}
"""


def split_file(source: Path, folder: Path, files: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    lines = source.read_bytes().splitlines(keepends=True)
    per = -(-len(lines) // files)
    for i in range(files):
        (folder / f"part-{i:03d}.jsonl").write_bytes(b"".join(lines[i * per : (i + 1) * per]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--rows-per-block", type=int, default=2000)
    parser.add_argument("--num-cpus", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--json", type=Path, help="Write the figures here as JSON.")
    args = parser.parse_args()
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.setdefault("RAY_DATA_DISABLE_PROGRESS_BARS", "1")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        generate(work / "all.jsonl", args.count, seed=7)
        split_file(work / "all.jsonl", work / "inputs", args.files)
        (work / "pipeline.yaml").write_text(CHAIN.format(rows_per_block=args.rows_per_block))
        pipeline = load_pipeline(work / "pipeline.yaml")
        results = {}
        for executor in ("inprocess", "ray"):
            if executor == "ray":
                import ray

                ray.init(address="local", num_cpus=args.num_cpus, include_dashboard=False, log_to_driver=False)
            start = time.perf_counter()
            manifest = run_pipeline(pipeline, work / f"out-{executor}", executor=executor, log=lambda m: None)  # type: ignore[arg-type]
            seconds = time.perf_counter() - start
            assert manifest.ledger.balanced
            results[executor] = {"seconds": round(seconds, 2), "dialogues_per_s": round(args.count / seconds), "output": manifest.ledger.output, "rejected": manifest.ledger.rejected}
            print(f"{executor:>9}: {seconds:7.2f} s  {args.count / seconds:8.0f} dialogues/s  ledger {manifest.ledger.input} = {manifest.ledger.output} + {manifest.ledger.rejected}", flush=True)
        ratio = results["ray"]["seconds"] / results["inprocess"]["seconds"]
        print(f"ray / in-process time ratio: {ratio:.2f}x")
        figures = {"count": args.count, "files": args.files, "num_cpus": args.num_cpus, "machine": f"{platform.machine()} {os.cpu_count()} cores", "results": results, "ratio": round(ratio, 2)}
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
