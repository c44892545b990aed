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
PER_CHARACTER = 3


def steps(settings):
    return [
        (SynthesizeProfiles, ProfilesConfig(llm=settings)),
        (SynthesizeDialogues, DialoguesConfig(llm=settings, turns=4)),
        (SynthesizeRefine, RefineConfig(llm=settings)),
    ]


def on_ray(ray, planned: pa.Table, chain, staging) -> pa.Table:
    """Each step one async actor with a quarter CPU (a pool of one keeps the test quick); one character per block and batch."""
    from ray.data import ActorPoolStrategy

    context = RunContext("ray-test", str(staging))
    # no repartition: a shuffle task needs a whole CPU, which the actor pools may hold (ray#44687)
    ds = ray.data.from_arrow([planned.slice(start, PER_CHARACTER) for start in range(0, planned.num_rows, PER_CHARACTER)])
    for cls, config in chain:
        ds = ds.map_batches(cls, fn_constructor_kwargs={"config": config, "context": context}, batch_format="pyarrow",
                            batch_size=PER_CHARACTER, compute=ActorPoolStrategy(size=1), num_cpus=cls.resources.cpus)
    return pa.concat_tables(ray.get(ds.to_arrow_refs()))


def test_pipeline_on_actors_with_faults_limits_and_a_cached_rerun(ray_cluster, tmp_path):
    planned = plan_table(tmp_path, SEEDS, dialogues_per_character=PER_CHARACTER)
    malformed = iter([Reply(content="{not json")])
    with LLMServer(author({"DialogueDraft": lambda body: next(malformed, None)})) as server:
        server.inject(Reply(status=429, headers={"Retry-After": "0.2"}), Reply(status=500), Reply(status=503))
        # 600/min = 10/s with a burst of 10, shared by the actors of the three steps
        settings = llm_settings(server, tmp_path, requests_per_minute=600, max_attempts=5)
        out = on_ray(ray_cluster, planned, steps(settings), tmp_path / "run1")
        paid = len(server.completions())
        statuses = sorted(r.status for r in server.requests)
        arrivals = sorted(r.arrived for r in server.requests)
        # the re-run, in this process, pays nothing: every answer is in the cache the actors wrote
        again = planned
        for cls, config in steps(settings):
            again = cls(config).run(again)
        assert len(server.completions()) == paid
    # ledger: every planned row comes out, and none was lost to the faults
    assert out.num_rows == planned.num_rows == 9 and all(r[REJECT_REASON] is None for r in out.to_pylist())
    assert statuses.count(429) == 1 and statuses.count(500) == 1 and statuses.count(503) == 1
    # 3 profiles + 9 dialogues (+1 re-ask after the malformed answer) + 9 refinements
    assert paid == 3 + 9 + 1 + 9
    assert arrivals[-1] - arrivals[0] >= (len(arrivals) - 10) / 10 - 0.05
    assert sorted(out.column("dialogue_id").to_pylist()) == sorted(again.column("dialogue_id").to_pylist())
    pairs = pq.read_table(tmp_path / "run1" / "pairs")
    assert pairs.num_rows == 9 and set(pairs.column("dialogue_id").to_pylist()) == set(out.column("dialogue_id").to_pylist())
    assert pq.read_table(tmp_path / "run1" / "profiles").num_rows == 3
    usage = summarize(pq.read_table(tmp_path / "run1" / "llm_usage"))
    assert {r["operator"]: r["requests"] for r in usage} == {"synthesize.profiles": 3, "synthesize.dialogues": 10, "synthesize.refine": 9}
    assert sum(r["failed_requests"] for r in usage) == 3


def test_endpoint_down_fails_the_job_with_a_clear_error(ray_cluster, tmp_path):
    planned = plan_table(tmp_path, "- {category: fictional, name: Ada, language: en}\n", dialogues_per_character=PER_CHARACTER)
    with LLMServer(lambda body: Reply(status=503)) as server:
        settings = llm_settings(server, tmp_path, max_attempts=2)
        with pytest.raises(Exception, match="unavailable: 2 attempts"):
            on_ray(ray_cluster, planned, steps(settings)[:1], tmp_path / "run")
        assert {r.status for r in server.requests} == {503}
