"""The synthesis steps as async callable classes on real Ray actors, against the loopback server."""

from __future__ import annotations


import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from operators.base import RunContext
from operators.columns import REJECT_REASON
from operators.synthesis.dialogues import DialoguesConfig, SynthesizeDialogues
from operators.synthesis.profiles import ProfilesConfig, SynthesizeProfiles
from operators.synthesis.refine import RefineConfig, SynthesizeRefine
from operators.synthesis.usage import summarize
from tests.llm_server import LLMServer, Reply
from tests.synthesis_author import author, llm_settings, plan_table

pytestmark = pytest.mark.integration

SEEDS = "- {category: daily_life, brief: a baker, language: en, count: 2}\n- {category: celebrity, name: 李白, language: zh}\n"


def synthesize(ray, planned: pa.Table, server, tmp_path, staging, **llm) -> pa.Table:
    """Profiles -> dialogues -> refine, each an actor pool of two async actors with a quarter CPU each."""
    from ray.data import ActorPoolStrategy

    settings = llm_settings(server, tmp_path, **llm)
    context = RunContext("ray-test", str(staging))
    steps = [
        (SynthesizeProfiles, ProfilesConfig(llm=settings)),
        (SynthesizeDialogues, DialoguesConfig(llm=settings, turns=4)),
        (SynthesizeRefine, RefineConfig(llm=settings)),
    ]
    # three blocks without a repartition: a shuffle task needs a whole CPU, which the actor pools may hold
    blocks = [planned.slice(start, 4) for start in range(0, planned.num_rows, 4)]
    ds = ray.data.from_arrow(blocks)
    for cls, config in steps:
        resources = cls.resources
        ds = ds.map_batches(cls, fn_constructor_kwargs={"config": config, "context": context}, batch_format="pyarrow",
                            batch_size=4, compute=ActorPoolStrategy(size=resources.actors), num_cpus=resources.cpus)
    return pa.concat_tables(ray.get(ds.to_arrow_refs()))


def test_pipeline_on_actors_with_faults_then_rerun_from_cache(ray_cluster, tmp_path):
    planned = plan_table(tmp_path, SEEDS, dialogues_per_character=3)
    malformed = iter([Reply(content="{not json")])
    with LLMServer(author({"DialogueDraft": lambda body: next(malformed, None)})) as server:
        server.inject(Reply(status=429, headers={"Retry-After": "0.2"}), Reply(status=500), Reply(status=503))
        out = synthesize(ray_cluster, planned, server, tmp_path, tmp_path / "run1")
        paid = len(server.completions())
        statuses = sorted(r.status for r in server.requests)
        again = synthesize(ray_cluster, planned, server, tmp_path, tmp_path / "run2")
        assert len(server.completions()) == paid
    # ledger: every planned row comes out, live or rejected with a reason
    assert out.num_rows == planned.num_rows == 9
    assert all(r[REJECT_REASON] is None for r in out.to_pylist())
    assert statuses.count(429) == 1 and statuses.count(500) == 1 and statuses.count(503) == 1
    # 3 profiles + 9 dialogues (+1 re-ask after the malformed answer) + 9 refinements
    assert paid == 3 + 9 + 1 + 9
    key = lambda t: sorted(t.column("dialogue_id").to_pylist())  # noqa: E731
    assert key(out) == key(again)
    pairs = pq.read_table(tmp_path / "run1" / "pairs")
    assert pairs.num_rows == 9 and set(pairs.column("dialogue_id").to_pylist()) == set(out.column("dialogue_id").to_pylist())
    assert pq.read_table(tmp_path / "run1" / "profiles").num_rows == 3
    first, second = (summarize(pq.read_table(tmp_path / run / "llm_usage")) for run in ("run1", "run2"))
    assert {r["operator"]: r["requests"] for r in first} == {"synthesize.profiles": 3, "synthesize.dialogues": 10, "synthesize.refine": 9}
    assert {r["operator"]: (r["requests"], r["cache_hits"]) for r in second} == {
        "synthesize.profiles": (0, 3), "synthesize.dialogues": (0, 10), "synthesize.refine": (0, 9)}
    assert all(r["failed_requests"] == 0 for r in second)
    assert sum(r["failed_requests"] for r in first) == 3


def test_rate_limit_is_shared_by_all_actors(ray_cluster, tmp_path):
    planned = plan_table(tmp_path, "- {category: fictional, name: Ada, language: en, profile: {profile_text: Ada is a mathematician in London.}}\n",
                         dialogues_per_character=8)
    with LLMServer(author()) as server:
        # 240/min = 4/s, burst 4: 8 dialogues + 8 refinements from 4 actors need at least (16 - 4) / 4 s
        synthesize(ray_cluster, planned, server, tmp_path, tmp_path / "run", requests_per_minute=240, cache=None)
        arrivals = sorted(r.arrived for r in server.requests)
    assert len(arrivals) == 16
    assert arrivals[-1] - arrivals[0] >= 3.0 - 0.05


def test_endpoint_down_fails_the_job_with_a_clear_error(ray_cluster, tmp_path):
    planned = plan_table(tmp_path, "- {category: fictional, name: Ada, language: en}\n", dialogues_per_character=2)
    with LLMServer(lambda body: Reply(status=503)) as server:
        with pytest.raises(Exception, match="unavailable: 2 attempts"):
            synthesize(ray_cluster, planned, server, tmp_path, tmp_path / "run", max_attempts=2)
        assert {r.status for r in server.requests} == {503}
