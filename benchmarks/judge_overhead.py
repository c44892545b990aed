"""quality.judge overhead per dialogue against a loopback OpenAI-compatible endpoint (no model latency).

The server (tests/llm_server.py, answering canned verdicts) runs in its own process. The baseline is
the synthesis client alone sending the same, already rendered, judge prompts; the judge adds prompt
rendering, JSON parsing, validation, checks and writing the scores and notes into the rows. Both run
in-process with the same concurrency and no response cache, best of --repeats; the difference per
dialogue is the judge's own cost, which a real model's seconds per request dwarf.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import pyarrow as pa  # noqa: E402

from operators.columns import conform  # noqa: E402
from operators.quality.judge import JudgeConfig, JudgeVerdict, QualityJudge  # noqa: E402
from operators.synthesis.client import LLMClient, LLMConfig  # noqa: E402
from operators.synthesis.structured import json_schema  # noqa: E402
from schemas import DIALOGUE_SCHEMA  # noqa: E402
from tests.llm_server import LLMServer, Reply  # noqa: E402
from tests.operators.quality.labelled import labelled_rows  # noqa: E402

VERDICT = json.dumps({"rationale": "Stays in character; a little flat in turn 4.", "consistency": 4, "human_likeness": 4, "engagement": 3,
                      "quality": 4, "safety": 5, "correctness": 5, "overall": 4, "bad_turns": []})


def canned(body: dict[str, Any]) -> Reply:
    return Reply(content=VERDICT)


def serve(queue: Any) -> None:
    with LLMServer(canned) as server:
        queue.put(server.url)
        server.thread.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=400, help="Dialogues to judge.")
    parser.add_argument("--concurrency", type=int, default=16, help="max_concurrent_requests.")
    parser.add_argument("--repeats", type=int, default=3, help="Best of this many timings.")
    args = parser.parse_args()

    queue: Any = multiprocessing.get_context("fork").Queue()
    server = multiprocessing.get_context("fork").Process(target=serve, args=(queue,), daemon=True)
    server.start()
    url = queue.get(timeout=30)
    llm = {"model": "loopback", "base_url": url, "api_key": "sk-bench", "cache": None, "temperature": 0, "max_concurrent_requests": args.concurrency}
    rows = labelled_rows(args.rows, seed=3)
    for row in rows:
        row["quality"] = None
    table = conform(pa.Table.from_pylist(rows, schema=DIALOGUE_SCHEMA))
    judge = QualityJudge(JudgeConfig(llm=llm))
    requests = [judge.prepare(dict(row)) for row in table.to_pylist()]

    async def baseline() -> float:
        client = LLMClient(LLMConfig(**llm))
        started = time.perf_counter()
        await asyncio.gather(*(client.complete(r.messages, seed=r.seed, template_version=r.version, schema_name="JudgeVerdict", schema=json_schema(JudgeVerdict))  # type: ignore[union-attr]
                               for r in requests))
        elapsed = time.perf_counter() - started
        await client.aclose()
        return elapsed

    def judged() -> float:
        started = time.perf_counter()
        out = QualityJudge(JudgeConfig(llm=llm)).run(table)
        elapsed = time.perf_counter() - started
        assert out.column("quality").null_count == 0
        return elapsed

    asyncio.run(baseline())  # warm-up: imports, connections
    judged()
    client_s = min(asyncio.run(baseline()) for _ in range(args.repeats))
    judge_s = min(judged() for _ in range(args.repeats))
    server.terminate()
    result = {
        "dialogues": args.rows,
        "client_only_ms_per_dialogue": round(1000 * client_s / args.rows, 3),
        "judge_ms_per_dialogue": round(1000 * judge_s / args.rows, 3),
        "judge_overhead_ms_per_dialogue": round(1000 * (judge_s - client_s) / args.rows, 3),
        "judge_time_vs_client_only": round(judge_s / client_s, 2),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
