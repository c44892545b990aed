"""Whole runs on a real local Ray cluster: ledger, rejects, outputs readable by consumers, determinism."""

from __future__ import annotations

import itertools
import json
import shutil

import duckdb
import polars as pl
import pyarrow.parquet as pq
import pytest

from jobs.loadgen import generate
from pipelines.execute import run_pipeline
from pipelines.publish import PublishError
from pipelines.spec import load_pipeline
from schemas import SCHEMA_VERSION
from tests.conftest import REPO

QUICKSTART = REPO / "pipelines" / "quickstart.yaml"


def corpus(output) -> pl.DataFrame:
    return pl.read_parquet(str(output / "corpus" / "*.parquet")).drop("pipeline_run_id").sort("dialogue_id")


def quiet(_message: str) -> None:
    pass


@pytest.fixture(scope="module")
def quickstart_run(ray_cluster, tmp_path_factory):
    output = tmp_path_factory.mktemp("runs") / "quickstart"
    manifest = run_pipeline(load_pipeline(QUICKSTART), output, log=quiet)
    return output, manifest


def test_quickstart_publishes_corpus_rejects_stats_and_balanced_manifest(quickstart_run):
    output, manifest = quickstart_run
    assert sorted(p.name for p in output.iterdir()) == ["corpus", "manifest.json", "rejects", "report", "stats"]
    ledger = manifest.ledger
    assert ledger.balanced and ledger.input == ledger.output + ledger.rejected == 14
    assert (ledger.output, ledger.rejected) == (10, 4)
    steps = {o.operator: o for o in ledger.operators}
    assert steps["read.jsonl"].by_reason == {"invalid_json": 1, "invalid_record": 1}
    assert steps["filters.length"].by_reason == {"too_few_turns": 1}
    assert steps["dedup.exact"].by_reason == {"duplicate": 1}
    for earlier, later in itertools.pairwise(ledger.operators):
        assert later.input == earlier.output
    on_disk = json.loads((output / "manifest.json").read_text())
    assert on_disk["schema_version"] == SCHEMA_VERSION and on_disk["ledger"]["balanced"] is True
    for _table, shards in manifest.shards.items():
        for shard in shards:
            assert pq.ParquetFile(output / shard.path).metadata.num_rows == shard.rows
    schema = pq.read_schema(next((output / "corpus").glob("*.parquet")))
    assert schema.metadata[b"characterdial.schema_version"] == SCHEMA_VERSION.encode()


def test_outputs_load_in_polars_duckdb_and_datasets(quickstart_run):
    output, manifest = quickstart_run
    frame = corpus(output)
    assert frame.height == 10 and frame["dialogue_id"].n_unique() == 10
    count = duckdb.sql(f"select count(*) from read_parquet('{output}/corpus/*.parquet') where split is not null").fetchall()[0][0]
    assert count == 10
    datasets = pytest.importorskip("datasets")
    loaded = datasets.load_dataset("parquet", data_files=str(output / "corpus" / "*.parquet"), split="train")
    assert loaded.num_rows == 10 and loaded[0]["turns"][0]["role"] in ("user", "character")
    rejects = pl.read_parquet(str(output / "rejects" / "*.parquet"))
    assert set(rejects["reason"]) == {"invalid_json", "invalid_record", "too_few_turns", "duplicate"}
    duplicate = rejects.filter(pl.col("reason") == "duplicate").row(0, named=True)
    assert duplicate["duplicate_of"] in set(frame["dialogue_id"])
    assert json.loads(duplicate["record"])["turns"][0]["text"]
    stats = pl.read_parquet(output / "stats" / "composition.parquet")
    assert stats["dialogues"].sum() == 10
    assert set(stats["category"]) == {"celebrity", "daily_life", "fictional"}


def test_splits_are_character_disjoint(quickstart_run):
    output, _ = quickstart_run
    per_character = corpus(output).group_by("character_id").agg(pl.col("split").n_unique().alias("n"))
    assert per_character["n"].max() == 1


def test_ray_and_inprocess_give_the_same_corpus(quickstart_run, tmp_path):
    output, _ = quickstart_run
    local = run_pipeline(load_pipeline(QUICKSTART), tmp_path / "local", executor="inprocess", log=quiet)
    assert local.ledger.model_dump() == quickstart_run[1].ledger.model_dump()
    assert corpus(tmp_path / "local").equals(corpus(output))


def test_bad_input_every_line_accounted_for(ray_cluster, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    good = [json.loads(line) for line in (REPO / "pipelines/samples/dialogues.jsonl").read_text(encoding="utf-8").splitlines()]
    lines = [json.dumps(good[0], ensure_ascii=False).encode(), b"{\"id\": 1,", json.dumps({"id": "x"}).encode(),
             json.dumps(good[1] | {"turns": [{"role": "user", "text": 5}]}).encode(), b"\xc3\x28 broken", b"[]", json.dumps(good[2], ensure_ascii=False).encode()]
    (data / "mixed.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    (data / "empty.jsonl").write_bytes(b"")
    (tmp_path / "p.yaml").write_text("name: bad\nsources:\n  - op: read.jsonl\n    paths: [data/]\noperators:\n  - op: normalize.text\n  - op: filters.length\n")
    manifest = run_pipeline(load_pipeline(tmp_path / "p.yaml"), tmp_path / "out", log=quiet)
    assert manifest.ledger.balanced
    assert (manifest.ledger.input, manifest.ledger.output, manifest.ledger.rejected) == (8, 2, 6)
    rejects = pl.read_parquet(str(tmp_path / "out/rejects/*.parquet")).sort("input_file", "input_line")
    got = [(r["input_file"].rsplit("/", 1)[-1], r["input_line"], r["reason"]) for r in rejects.iter_rows(named=True)]
    assert got == [
        ("empty.jsonl", 0, "empty_file"),
        ("mixed.jsonl", 2, "invalid_json"),
        ("mixed.jsonl", 3, "invalid_record"),
        ("mixed.jsonl", 4, "invalid_record"),
        ("mixed.jsonl", 5, "invalid_utf8"),
        ("mixed.jsonl", 6, "not_an_object"),
    ]
    detail = rejects.filter(pl.col("input_line") == 4)["detail"][0]
    assert "mixed.jsonl:4: turns[0].text: Input should be a valid string" in detail
    texts = set(corpus(tmp_path / "out")["turns"].list.first().struct.field("text"))
    assert texts == {good[0]["turns"][0]["text"], good[2]["turns"][0]["text"]}


def test_split_and_dedup_stable_across_block_counts_and_runs(ray_cluster, tmp_path):
    generate(tmp_path / "gen.jsonl", 3000, seed=3, duplicate_rate=0.05, bad_rate=0.01, characters=60)
    outputs = []
    for rows_per_block in (50, 1000, 1000):
        folder = tmp_path / f"blocks-{rows_per_block}-{len(outputs)}"
        folder.mkdir()
        shutil.copy(tmp_path / "gen.jsonl", folder / "gen.jsonl")
        (folder / "p.yaml").write_text(
            "name: stable\nsources: [{op: read.jsonl, paths: [gen.jsonl]}]\n"
            "operators: [{op: normalize.text}, {op: dedup.exact}, {op: split.by_character}]\n"
            f"execution: {{rows_per_block: {rows_per_block}, shuffle_partitions: {3 if rows_per_block == 50 else 5}}}\n"
        )
        manifest = run_pipeline(load_pipeline(folder / "p.yaml"), folder / "out", log=quiet)
        assert manifest.ledger.balanced
        outputs.append(corpus(folder / "out").select("dialogue_id", "character_id", "split", "dup_cluster_id", "content_hash"))
    assert outputs[0].height > 2500
    assert outputs[0].equals(outputs[1]) and outputs[1].equals(outputs[2])


def test_publish_refuses_to_clobber(ray_cluster, quickstart_run, tmp_path):
    output, _ = quickstart_run
    with pytest.raises(PublishError, match="pass --overwrite"):
        run_pipeline(load_pipeline(QUICKSTART), output, log=quiet)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(PublishError, match="holds no manifest.json"):
        run_pipeline(load_pipeline(QUICKSTART), foreign, overwrite=True, log=quiet)
    assert (foreign / "notes.txt").read_text() == "mine"
    assert not list(tmp_path.glob(".*staging*"))


@pytest.mark.parametrize("executor", ["ray", "inprocess"])
def test_quickstart_with_an_llm_endpoint_adds_synthesized_dialogues(ray_cluster, tmp_path, executor):
    """The same quickstart against a loopback OpenAI-compatible server: the synthesis chain runs through the
    real openai client (async actors on Ray), touches only the rows it planned, and the ledger balances."""
    import yaml

    from tests.llm_server import LLMServer
    from tests.synthesis_author import author, llm_settings

    spec = yaml.safe_load(QUICKSTART.read_text(encoding="utf-8"))
    with LLMServer(author()) as server:
        for step in spec["operators"]:
            if "llm" in step:
                step["llm"] = llm_settings(server, tmp_path)
        spec["sources"][0]["paths"] = [str(REPO / "pipelines" / p) for p in spec["sources"][0]["paths"]]
        spec["sources"][1]["paths"] = [str(REPO / "pipelines" / p) for p in spec["sources"][1]["paths"]]
        (tmp_path / "q.yaml").write_text(yaml.safe_dump(spec, allow_unicode=True))
        pipeline = load_pipeline(tmp_path / "q.yaml")
        assert not pipeline.skipped
        manifest = run_pipeline(pipeline, tmp_path / "out", executor=executor, log=quiet)
        requests = len(server.requests)
    ledger = manifest.ledger
    assert ledger.balanced
    frame = corpus(tmp_path / "out")
    synthesized = frame.filter(pl.col("source") == "synthesis")
    imported = frame.filter(pl.col("source") == "import")
    assert imported.height == 10  # the samples went through the LLM steps untouched
    planned = next(o for o in ledger.operators if o.operator == "synthesize.plan").input
    rejects = pl.read_parquet(str(tmp_path / "out" / "rejects" / "*.parquet"))
    synthesis_rejects = rejects.filter(pl.col("operator").str.starts_with("synthesize.") | pl.col("record").str.contains('"source": "synthesis"'))
    assert planned > 0 and synthesized.height + synthesis_rejects.height == planned, synthesis_rejects.select("operator", "reason", "detail").to_dicts()
    assert synthesized.height > 0 and all(len(t) == 6 for t in synthesized["turns"].to_list())
    assert requests >= synthesized.height
    usage = {u["operator"]: u for u in manifest.llm_usage}
    assert usage["synthesize.dialogues"]["requests"] >= synthesized.height
