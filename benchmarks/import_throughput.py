"""Import throughput: sessions/s of `read.hrp` and of the full `import hrp` path, against `read.jsonl` as baseline.

Generates an HRP log of N sessions (seeded: zh and en, 4-16 turns, author ids, timestamps, some PII) and
the same sessions in the native JSONL format, then times, in one process and one run:
  baseline  read.jsonl over the native file (parse + validate + canonical rows)
  read.hrp  the HRP source over the HRP file (same work plus the ingest rules and meta)
  import    read.hrp + privacy.pii + privacy.consent + preference.hpi_rewrite + Parquet writing (what `import hrp` does)

    python -m benchmarks.import_throughput --sessions 100000 --workdir /tmp/chardial-bench
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import time
from collections.abc import Callable
from pathlib import Path

ZH = ["你今天过得怎么样？", "我刚下班，有点累。", "要不要一起去喝杯咖啡？", "我最近在读《平凡的世界》。", "你还记得我们第一次见面吗？", "明天会下雨吗？",
      "我的电话是13812345678，有事找我。", "别担心，一切都会好起来的。", "周末去爬山吧！", "这道菜真好吃。"]
EN = ["How was your day?", "I just got off work, a bit tired.", "Want to grab a coffee?", "I'm reading a great novel right now.",
      "Do you remember when we first met?", "Will it rain tomorrow?", "Email me at sam.lee@example.com later.", "Don't worry, it'll be fine.",
      "Let's go hiking this weekend!", "This dish is delicious."]
CHARACTERS = [("林晓", "zh", "在咖啡店打工的大学生，是你的同学。"), ("项羽", "zh", "项羽（公元前232年—公元前202年），西楚霸王。"),
              ("Seraphina", "en", "A forest guardian from a fantasy novel who heals travellers."), ("Emma", "en", "Your roommate, a nurse who works night shifts.")]


def generate(sessions: int, workdir: Path, seed: int = 7) -> tuple[Path, Path]:
    """Write `hrp.jsonl` and `native.jsonl` holding the same sessions."""
    rng = random.Random(seed)
    hrp, native = workdir / "hrp.jsonl", workdir / "native.jsonl"
    with open(hrp, "w", encoding="utf-8") as h, open(native, "w", encoding="utf-8") as n:
        for index in range(sessions):
            name, language, profile = rng.choice(CHARACTERS)
            lines = ZH if language == "zh" else EN
            turns = []
            for t in range(rng.randrange(4, 17)):
                role = "user" if t % 2 == 0 else "character"
                turns.append({"role": role, "text": rng.choice(lines), "author_id": f"user-{rng.randrange(5000)}" if role == "user" else f"actor-{rng.randrange(200)}",
                              "timestamp": f"2024-05-{rng.randrange(1, 29):02d}T{rng.randrange(24):02d}:{rng.randrange(60):02d}:00+08:00"})
            character = {"name": name, "profile_text": profile}
            session = {"id": f"s{index}", "character": character, "user_role": "a friend", "scenario": "chit_chat", "language": language, "turns": turns}
            h.write(json.dumps(session, ensure_ascii=False) + "\n")
            native_turns = [{k: v for k, v in turn.items() if k != "timestamp"} for turn in turns]
            record = {**session, "character": {**character, "category": "other"}, "turns": native_turns, "source": "human_roleplay"}
            n.write(json.dumps(record, ensure_ascii=False) + "\n")
    return hrp, native


def timed(label: str, work: Callable[[], int]) -> dict[str, float]:
    """Wall and CPU seconds of one stage; on a shared machine CPU seconds are the steadier figure."""
    wall, cpu = time.perf_counter(), time.process_time()
    rows = work()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"{label:10s} {rows:>8d} sessions: {wall:7.2f} s wall = {rows / wall:7.0f}/s, {cpu:7.2f} s CPU = {rows / cpu:7.0f}/CPU-s", flush=True)
    return {"sessions": rows, "wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "sessions_per_s": round(rows / wall, 1), "sessions_per_cpu_s": round(rows / cpu, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=100_000)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/chardial-bench"))
    parser.add_argument("--block-rows", type=int, default=2_000)
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("CHARDIAL_PSEUDONYM_SALT", "benchmark-salt")

    from operators.ingest.hrp import HrpReader
    from operators.readers.native_jsonl import NativeJsonlReader
    from pipelines.execute import run_pipeline
    from pipelines.spec import pipeline_from_dict

    started = time.perf_counter()
    hrp, native = generate(args.sessions, args.workdir)
    print(f"generated {args.sessions} sessions ({hrp.stat().st_size / 1e6:.0f} MB HRP) in {time.perf_counter() - started:.1f} s", flush=True)

    def read_all(reader: object, path: Path) -> int:
        return sum(block.num_rows for block in reader.read(str(path), args.block_rows))  # type: ignore[attr-defined]

    results = {
        "baseline": timed("read.jsonl", lambda: read_all(NativeJsonlReader(NativeJsonlReader.Config(paths=[str(native)])), native)),
        "read_hrp": timed("read.hrp", lambda: read_all(HrpReader(HrpReader.Config(paths=[str(hrp)])), hrp)),
    }
    out = args.workdir / "import"
    shutil.rmtree(out, ignore_errors=True)
    # What `chardial import hrp` runs: read, normalize, PII, consent, pairs, then ledger and publication.
    pipeline = pipeline_from_dict(
        {
            "name": "import-benchmark",
            "sources": [{"op": "read.hrp", "paths": [str(hrp)]}],
            "operators": [{"op": "normalize.text"}, {"op": "privacy.pii"}, {"op": "privacy.consent"}, {"op": "preference.hpi_rewrite"}],
            "execution": {"rows_per_block": args.block_rows},
        },
        "import benchmark",
        args.workdir,
    )
    results["import"] = timed("import", lambda: run_pipeline(pipeline, out, executor="inprocess", log=lambda m: None, report=False).ledger.output)
    for key in ("read_hrp", "import"):
        results[key]["cpu_ratio_to_baseline"] = round(results[key]["sessions_per_cpu_s"] / results["baseline"]["sessions_per_cpu_s"], 3)
        results[key]["wall_ratio_to_baseline"] = round(results[key]["sessions_per_s"] / results["baseline"]["sessions_per_s"], 3)
    print(json.dumps({"sessions": args.sessions, "cpus": os.cpu_count(), **results}, indent=2))


if __name__ == "__main__":
    main()
