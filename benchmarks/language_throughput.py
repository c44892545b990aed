"""`filters.language` throughput, dialogues/s on one core: the English fast path vs langdetect alone, same run.

    python -m benchmarks.language_throughput --dialogues 3000 --data ../shared/data

Dialogues are real text: consecutive PDNC quotes (English novels), six turns each, alternating user and
character. Both variants run the same operator on the same dialogues (best of `--repeat`, interleaved);
agreement is the share of dialogues for which the fast path's language equals langdetect's, and the
languages langdetect gives where they differ are listed.
"""

from __future__ import annotations

import argparse
import csv
import time
from collections import Counter
from pathlib import Path

import pyarrow as pa

from benchmarks.corpus import row
from operators.columns import WORKING_SCHEMA
from operators.filters.language import LanguageConfig, LanguageFilter


def pdnc_dialogues(folder: Path, count: int, turns: int = 6) -> pa.Table:
    """`count` dialogues of `turns` consecutive quotes each, taken round-robin over the novels."""
    novels = []
    for path in sorted(folder.glob("*/quotation_info.csv")):
        with open(path, encoding="utf-8") as handle:
            novels.append([r["quoteText"] for r in csv.DictReader(handle) if r["quoteText"].strip()])
    if not novels:
        raise SystemExit(f"{folder}: no */quotation_info.csv (the PDNC folder of shared/data)")
    rows, position = [], [0] * len(novels)
    while len(rows) < count:
        for n, quotes in enumerate(novels):
            start = position[n] % max(1, len(quotes) - turns)
            position[n] += turns
            rows.append(row(len(rows), quotes[start : start + turns], "en"))
            if len(rows) == count:
                break
    return pa.Table.from_pylist(rows, schema=WORKING_SCHEMA)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dialogues", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--data", type=Path, default=Path("../shared/data"), help="shared/data (PDNC under pdnc/).")
    args = parser.parse_args()
    pa.set_cpu_count(1)
    table = pdnc_dialogues(args.data / "pdnc", args.dialogues)
    variants = {
        "langdetect alone (en_function_share: null)": LanguageFilter(LanguageConfig(en_function_share=None)),
        "English fast path, then langdetect (default)": LanguageFilter(LanguageConfig()),
    }
    best = dict.fromkeys(variants, float("inf"))
    results: dict[str, list[str]] = {}
    for _ in range(args.repeat):
        for name, operator in variants.items():
            operator.setup()
            start = time.perf_counter()
            out = operator(table)
            best[name] = min(best[name], time.perf_counter() - start)
            results[name] = out.column("lang_detected").to_pylist()
    base, fast = list(variants)
    print(f"{args.dialogues} dialogues of 6 PDNC quotes, one core")
    print("| variant | dialogues/s | vs langdetect |")
    print("|---|---:|---:|")
    for name in variants:
        print(f"| {name} | {args.dialogues / best[name]:,.0f} | {best[base] / best[name]:.1f}x |")
    same = sum(a == b for a, b in zip(results[base], results[fast], strict=True))
    differ = Counter((a, b) for a, b in zip(results[base], results[fast], strict=True) if a != b)
    print(f"agreement with langdetect: {same / args.dialogues:.4f} ({same}/{args.dialogues}); differences (langdetect, fast): {dict(differ)}")
    print(f"languages (langdetect alone): {dict(Counter(results[base]))}")


if __name__ == "__main__":
    main()
