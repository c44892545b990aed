"""Reliability of the LLM judge: test-retest (one judge, two seeds), two-judge agreement, judge vs human ratings.

Needs an endpoint: --base-url or $CHARDIAL_LLM_BASE_URL (key: $CHARDIAL_LLM_API_KEY), and --model. A second
judge is optional (--second-model, --second-base-url or $CHARDIAL_JUDGE2_BASE_URL, key $CHARDIAL_JUDGE2_API_KEY).
Without an endpoint it says so and exits 0. Input: a run folder or dialogue Parquet (human HPI ratings in
it are compared too), or by default the bundled samples. Prints the per-dimension agreement as JSON and a
Markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from operators.columns import REJECT_REASON, conform  # noqa: E402
from operators.quality.labels import label_files  # noqa: E402
from operators.quality.reliability import judge_reliability  # noqa: E402
from operators.readers.native_jsonl import NativeJsonlReader  # noqa: E402
from schemas import DIALOGUE_SCHEMA  # noqa: E402

SAMPLES = REPO / "pipelines" / "samples"


def dialogues(paths: list[str]) -> pa.Table:
    if paths:
        tables = [pq.read_table(f) for f in label_files(paths)]
        return conform(pa.concat_tables([t.select(DIALOGUE_SCHEMA.names).cast(DIALOGUE_SCHEMA) for t in tables]))
    reader = NativeJsonlReader(NativeJsonlReader.Config(paths=[str(SAMPLES)]))
    table = pa.concat_tables([t for f in sorted(SAMPLES.glob("*.jsonl")) for t in reader.read(str(f), 1000)])
    return table.filter(pa.compute.is_null(table.column(REJECT_REASON)))


def judge_settings(model: str, base_url: str, api_key: str | None, args: argparse.Namespace) -> dict[str, Any]:
    llm: dict[str, Any] = {"model": model, "base_url": base_url, "temperature": args.temperature, "cache": args.cache,
                           "max_concurrent_requests": args.concurrency}
    if api_key:
        llm["api_key"] = api_key
    return {"llm": llm}


def markdown(report: dict[str, Any]) -> str:
    lines = ["| comparison | dimension | n | Spearman | weighted κ | exact | within ±1 |", "|---|---|---|---|---|---|---|"]
    for comparison in ("test_retest", "inter_judge", "judge_vs_human"):
        for dimension, m in report.get(comparison, {}).items():
            lines.append(f"| {comparison} | {dimension} | {m['n']} | {m['spearman']} | {m['weighted_kappa']} | {m['exact']} | {m['within_1']} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("inputs", nargs="*", help="Run folders or dialogue Parquet; default: the bundled samples.")
    parser.add_argument("--model", default=os.environ.get("CHARDIAL_JUDGE_MODEL"), help="Judge model name (or $CHARDIAL_JUDGE_MODEL).")
    parser.add_argument("--base-url", default=os.environ.get("CHARDIAL_LLM_BASE_URL") or os.environ.get("OPENAI_BASE_URL"), help="Judge endpoint.")
    parser.add_argument("--second-model", default=os.environ.get("CHARDIAL_JUDGE2_MODEL"), help="A second judge's model.")
    parser.add_argument("--second-base-url", default=os.environ.get("CHARDIAL_JUDGE2_BASE_URL"), help="The second judge's endpoint.")
    parser.add_argument("--temperature", type=float, default=0.0, help="Sampling temperature of both judges.")
    parser.add_argument("--limit", type=int, default=200, help="At most this many dialogues.")
    parser.add_argument("--concurrency", type=int, default=16, help="Requests in flight per judge.")
    parser.add_argument("--cache", default=".cache/characterdial/llm", help="Response cache (a re-run costs nothing).")
    parser.add_argument("--json", default=None, help="Also write the report here.")
    args = parser.parse_args()
    if not args.base_url or not args.model:
        print("judge reliability skipped: no LLM endpoint configured (set --base-url/$CHARDIAL_LLM_BASE_URL and --model/$CHARDIAL_JUDGE_MODEL)")
        return
    table = dialogues(args.inputs).slice(0, args.limit)
    first = judge_settings(args.model, args.base_url, os.environ.get("CHARDIAL_LLM_API_KEY"), args)
    second = None
    if args.second_model:
        second = judge_settings(args.second_model, args.second_base_url or args.base_url, os.environ.get("CHARDIAL_JUDGE2_API_KEY"), args)
    report = judge_reliability(table, first, second)
    report["judges"] = [args.model] + ([args.second_model] if second else [])
    print(json.dumps(report, indent=2))
    print(markdown(report))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
