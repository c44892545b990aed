"""Synthesis client overhead: achieved requests/s against a loopback endpoint with a fixed latency per request.

The theoretical maximum for a configuration is (requests in flight) / latency: in flight is
max_concurrent_requests for one process, and actors x min(max_concurrent_requests, 4 async batches x batch
size) on Ray. The ratio achieved / theoretical is our overhead: client, cache writes, prompt rendering,
parsing, checks and Ray scheduling. Runs `synthesize.dialogues` (real prompts, parsing, checks, response
cache on) against `python -m tests.llm_server` in its own process (so the server does not share our GIL),
in-process after a warm-up, and on Ray actors. Rates come from the server's arrival window (first to last
arrival + one latency), so actor start-up is left out; it shows in the Ray wall time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import pyarrow as pa

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("RAY_DATA_DISABLE_PROGRESS_BARS", "1")

from operators.base import RunContext  # noqa: E402
from operators.synthesis.dialogues import DialoguesConfig, SynthesizeDialogues  # noqa: E402
from tests.synthesis_author import llm_settings, plan_table  # noqa: E402

SEED = "- {category: fictional, name: Ada, language: en, profile: {profile_text: Ada is a mathematician in London who loves puzzles.}}\n"


def stats(url: str) -> dict:
    with urllib.request.urlopen(f"{url}/stats") as response:
        return json.loads(response.read())


def window(url: str, before: int, latency: float) -> tuple[int, float]:
    """Requests since `before` and their arrival window plus one service time (needs a fresh server per mode)."""
    now = stats(url)
    return now["requests"] - before, (now["last"] - now["first"]) + latency


def in_process(url: str, work: Path, planned: pa.Table, warm_up: pa.Table, concurrency: int, latency: float) -> dict:
    config = DialoguesConfig(llm=llm_settings(SimpleNamespace(url=url), work, cache=str(work / "cache-inproc"), max_concurrent_requests=concurrency), turns=4)
    step = SynthesizeDialogues(config)

    async def measure() -> float:
        # warm-up rows (other seeds, so no cache hits later): imports, TLS context and connections are start-up
        await step(warm_up)
        started = time.perf_counter()
        await step(planned)
        elapsed = time.perf_counter() - started
        await step.client.aclose()
        return elapsed

    elapsed = asyncio.run(measure())
    return {"mode": "in-process", "actors": 1, "in_flight": min(concurrency, planned.num_rows), "requests": planned.num_rows,
            "wall_s": round(elapsed, 3), "achieved_rps": round(planned.num_rows / elapsed, 1)}


def on_ray(url: str, work: Path, planned: pa.Table, actors: int, concurrency: int, batch_size: int, latency: float) -> dict:
    import ray
    from ray.data import ActorPoolStrategy

    config = DialoguesConfig(llm=llm_settings(SimpleNamespace(url=url), work, cache=str(work / "cache-ray"), max_concurrent_requests=concurrency), turns=4)
    blocks = [planned.slice(start, batch_size) for start in range(0, planned.num_rows, batch_size)]
    before = stats(url)["requests"]
    started = time.perf_counter()
    ds = ray.data.from_arrow(blocks).map_batches(
        SynthesizeDialogues, fn_constructor_kwargs={"config": config, "context": RunContext("bench", str(work / "staging"))},
        batch_format="pyarrow", batch_size=batch_size, compute=ActorPoolStrategy(size=actors), num_cpus=0.25)
    rows = sum(t.num_rows for t in ray.get(ds.to_arrow_refs()))
    wall = time.perf_counter() - started
    requests, span = window(url, before, latency)
    assert rows == planned.num_rows == requests, (rows, requests)
    return {"mode": "ray", "actors": actors, "in_flight": actors * min(concurrency, 4 * batch_size), "requests": requests,
            "wall_s": round(wall, 3), "window_s": round(span, 3), "achieved_rps": round(requests / span, 1)}


class Server:
    """`python -m tests.llm_server` in its own process."""

    def __init__(self, latency: float) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "tests.llm_server", "--latency", str(latency)], cwd=REPO,
                                        stdout=subprocess.PIPE, text=True)
        self.url = self.process.stdout.readline().strip()  # type: ignore[union-attr]

    def __enter__(self) -> str:
        return self.url

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=400, help="Dialogues to synthesize (one request each).")
    parser.add_argument("--latency", type=float, default=0.2, help="Seconds the loopback endpoint takes per request.")
    parser.add_argument("--concurrency", type=int, default=16, help="max_concurrent_requests per actor / process.")
    parser.add_argument("--actors", type=int, default=2, help="Actors on Ray.")
    parser.add_argument("--batch-size", type=int, default=16, help="Rows per batch on Ray.")
    parser.add_argument("--num-cpus", type=int, default=2, help="CPUs of the local Ray cluster.")
    parser.add_argument("--skip-ray", action="store_true", help="Only the in-process measurement.")
    parser.add_argument("--json", default=None, help="Also write the results to this file.")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="chardial-synth-bench-"))
    # the seed carries a profile, so every planned row is ready for synthesize.dialogues
    planned = plan_table(work, SEED, dialogues_per_character=args.rows)
    (work / "warm").mkdir()
    warm_up = plan_table(work / "warm", SEED, dialogues_per_character=args.concurrency)
    results = []
    with Server(args.latency) as url:
        results.append(in_process(url, work, planned, warm_up, args.concurrency, args.latency))
    if not args.skip_ray:
        import ray

        ray.init(address="local", num_cpus=args.num_cpus, include_dashboard=False, log_to_driver=False)
        with Server(args.latency) as url:
            results.append(on_ray(url, work, planned, args.actors, args.concurrency, args.batch_size, args.latency))
        ray.shutdown()
    for result in results:
        result["latency_s"] = args.latency
        result["theoretical_rps"] = round(result["in_flight"] / args.latency, 1)
        result["ratio"] = round(result["achieved_rps"] / result["theoretical_rps"], 3)
    print(json.dumps(results, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
