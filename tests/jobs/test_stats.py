"""pipelines/stats.py on small run folders written with the real schemas."""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from pathlib import Path

import duckdb
import polars as pl
import pyarrow.parquet as pq
import pytest

from pipelines.stats import COUNT_EDGES, compute_stats, load_manifest, read_stats, write_stats
from schemas.arrow import METADATA_TABLE_KEY
from schemas.records import QUALITY_DIMENSIONS
from schemas.stats import ALL_LANGUAGES, DIMENSIONS, STATS_MODELS, stats_schema
from tests.run_folders import sample_corpus, sample_rejects, write_run


@pytest.fixture
def run(tmp_path: Path) -> Path:
    write_run(tmp_path / "run", sample_corpus(), sample_rejects(), run_id="run-b")
    return tmp_path / "run"


def test_composition_shares_count_every_combination(run: Path):
    corpus = sample_corpus()
    table = compute_stats(run)["composition_shares"]
    expected = Counter((d.character.category, d.scenario, d.source, d.language, d.split) for d in corpus)
    got = {(r["category"], r["scenario"], r["source"], r["language"], r["split"]): r["dialogues"] for r in table.iter_rows(named=True)}
    assert got == dict(expected)
    assert table["dialogue_share"].sum() == pytest.approx(1.0)
    assert table["turn_share"].sum() == pytest.approx(1.0)
    assert table["turns"].sum() == sum(len(d.turns) for d in corpus)
    assert set(table["pipeline_run_id"]) == {"run-b"}


def test_marginals_give_counts_shares_and_characters_per_category(run: Path):
    corpus = sample_corpus()
    table = compute_stats(run)["marginals"]
    assert set(table["dimension"]) == set(DIMENSIONS)
    for dimension in DIMENSIONS:
        rows = table.filter(pl.col("dimension") == dimension)
        assert rows["dialogue_share"].sum() == pytest.approx(1.0), dimension
        assert rows["dialogues"].sum() == len(corpus)
    categories = {r["value"]: r["characters"] for r in table.filter(pl.col("dimension") == "category").iter_rows(named=True)}
    expected = {category: len({d.character_id for d in corpus if d.character.category == category}) for category in categories}
    assert categories == expected
    splits = {r["value"]: r["dialogues"] for r in table.filter(pl.col("dimension") == "split").iter_rows(named=True)}
    assert splits == dict(Counter(d.split for d in corpus))


def test_top_characters_rank_by_dialogues_and_truncate(tmp_path: Path):
    corpus = sample_corpus()
    write_run(tmp_path, corpus)
    table = compute_stats(tmp_path, top=2)["top_characters"]
    by_character = Counter(d.character_id for d in corpus).most_common()
    assert table["character_id"].to_list() == [character for character, _ in by_character[:2]]
    assert table["rank"].to_list() == [1, 2]
    assert table["name"].to_list() == ["Li Bai", "Holmes"]
    assert table["cumulative_share"][-1] == pytest.approx((by_character[0][1] + by_character[1][1]) / len(corpus))


def test_distributions_bin_every_dialogue_and_turn_on_fixed_edges(run: Path):
    corpus = sample_corpus()
    tables = compute_stats(run)
    bins = tables["distributions"]
    turns = bins.filter((pl.col("metric") == "turns_per_dialogue") & (pl.col("language") == ALL_LANGUAGES))
    assert turns.height == len(COUNT_EDGES["turns_per_dialogue"])  # zero-filled: every bin present
    assert {r["label"]: r["count"] for r in turns.iter_rows(named=True) if r["count"]} == {
        str(k): v for k, v in Counter(len(d.turns) for d in corpus).items()
    }
    chars = bins.filter((pl.col("metric") == "chars_per_turn") & (pl.col("language") == ALL_LANGUAGES))
    assert chars["count"].sum() == sum(len(d.turns) for d in corpus)
    assert chars.filter(pl.col("label") == "200-499")["count"].item() == 1  # the 250-character turn
    assert chars.filter(pl.col("label") == "1-9")["count"].item() >= 2  # 'z' and 'yyyyyyyyy'
    shares = bins.group_by("metric", "language").agg(pl.col("share").sum(), pl.col("count").sum())
    assert all(s == pytest.approx(1.0) for s, c in zip(shares["share"], shares["count"], strict=True) if c)

    overall = bins.filter((pl.col("metric") == "quality.overall") & (pl.col("language") == ALL_LANGUAGES))
    assert overall.filter(pl.col("count") > 0)["label"].to_list() == ["1-1.5", "4.5-5"]
    safety = bins.filter((pl.col("metric") == "quality.safety") & (pl.col("language") == "zh"))
    assert safety.filter(pl.col("label") == "4.5-5")["count"].item() == 1  # 5.0 lands in the closed last bin

    summary = tables["distribution_summary"]
    row = summary.filter((pl.col("metric") == "quality.overall") & (pl.col("language") == ALL_LANGUAGES)).row(0, named=True)
    assert (row["count"], row["missing"], row["min"], row["max"]) == (2, len(corpus) - 2, 1.2, 4.5)
    row = summary.filter((pl.col("metric") == "turns_per_dialogue") & (pl.col("language") == "zh")).row(0, named=True)
    zh_turns = [len(d.turns) for d in corpus if d.language == "zh"]
    assert row["mean"] == pytest.approx(sum(zh_turns) / len(zh_turns))
    assert set(summary["metric"]) >= {f"quality.{name}" for name in QUALITY_DIMENSIONS}


def test_funnel_follows_the_ledger_and_checks_rejects(run: Path):
    manifest = load_manifest(run)
    tables = compute_stats(run)
    funnel = tables["funnel"]
    assert funnel.select("operator", "input", "output", "rejected").rows() == [
        (step.operator, step.input, step.output, step.rejected) for step in manifest.ledger.operators
    ]
    assert funnel["remaining_share"][-1] == pytest.approx(manifest.ledger.output / manifest.ledger.input)
    reasons = tables["funnel_reasons"]
    expected = Counter((r.operator, r.reason) for r in sample_rejects())
    assert {(r["operator"], r["reason"]): r["rejected"] for r in reasons.iter_rows(named=True)} == dict(expected)
    assert reasons["rejected"].to_list() == reasons["rejects_rows"].to_list()
    assert reasons["step"].to_list() == [0, 1, 1, 2]


def test_funnel_reasons_show_rejects_the_ledger_does_not_count(tmp_path: Path):
    manifest = write_run(tmp_path, sample_corpus(), sample_rejects())
    extra = tmp_path / "rejects" / "part-00001.parquet"
    pq.write_table(pq.read_table(tmp_path / "rejects" / "part-00000.parquet").slice(0, 1), extra)
    reasons = compute_stats(tmp_path, manifest=manifest)["funnel_reasons"]
    row = reasons.filter(pl.col("reason") == "invalid_json").row(0, named=True)
    assert (row["rejected"], row["rejects_rows"]) == (1, 2)


def test_duplicate_cluster_sizes(run: Path):
    table = compute_stats(run)["duplicate_clusters"]
    kept = Counter(r.duplicate_of for r in sample_rejects() if r.duplicate_of)
    sizes = Counter(count + 1 for count in kept.values())
    assert {r["cluster_size"]: r["clusters"] for r in table.iter_rows(named=True)} == dict(sizes)
    assert table["removed"].sum() == sum(kept.values())
    assert set(table["operator"]) == {"dedup.exact"}


def test_deltas_against_a_previous_run(tmp_path: Path):
    previous = tmp_path / "a"
    write_run(previous, sample_corpus()[:3], sample_rejects()[:2], run_id="run-a")
    current = tmp_path / "b"
    write_run(current, sample_corpus(), sample_rejects(), run_id="run-b")
    deltas = compute_stats(current, previous)["deltas"]
    assert set(deltas["previous_run_id"]) == {"run-a"} and set(deltas["pipeline_run_id"]) == {"run-b"}

    def row(section: str, key: str, metric: str) -> dict:
        return deltas.filter((pl.col("section") == section) & (pl.col("key") == key) & (pl.col("metric") == metric)).row(0, named=True)

    dialogues = row("run", "run", "dialogues")
    assert (dialogues["current"], dialogues["previous"], dialogues["change"]) == (6, 3, 3)
    assert dialogues["relative_change"] == pytest.approx(1.0)
    fictional = row("marginals", "category=fictional", "dialogues")  # absent before: counts as 0, no relative change
    assert (fictional["previous"], fictional["change"], fictional["relative_change"]) == (None, 2, None)
    duplicates = row("funnel", "dedup.exact/duplicate", "rejected")
    assert (duplicates["current"], duplicates["change"]) == (3, 3)


def test_deltas_use_the_previous_runs_published_stats(tmp_path: Path):
    previous = tmp_path / "a"
    write_run(previous, sample_corpus()[:3], run_id="run-a")
    published = compute_stats(previous)
    published["run_summary"] = published["run_summary"].with_columns(pl.lit(100).alias("dialogues"))
    write_stats(previous, published)
    current = tmp_path / "b"
    write_run(current, sample_corpus(), run_id="run-b")
    deltas = compute_stats(current, previous)["deltas"]
    row = deltas.filter((pl.col("section") == "run") & (pl.col("metric") == "dialogues")).row(0, named=True)
    assert row["previous"] == 100


def test_published_stats_missing_a_column_are_recomputed(tmp_path: Path):
    write_run(tmp_path, sample_corpus(), run_id="run-a")
    write_stats(tmp_path, compute_stats(tmp_path))
    assert read_stats(tmp_path) is not None
    path = tmp_path / "stats" / "marginals.parquet"
    pq.write_table(pq.read_table(path).drop_columns(["character_share"]), path)
    assert read_stats(tmp_path) is None


def test_write_stats_publishes_documented_schemas_readable_by_duckdb(run: Path, tmp_path: Path):
    previous = tmp_path / "prev"
    write_run(previous, sample_corpus()[:2], run_id="run-a")
    tables = compute_stats(run, previous)
    shards = write_stats(run, tables)
    assert {Path(s.path).stem for s in shards} == set(STATS_MODELS)
    for shard in shards:
        path = run / shard.path
        assert hashlib.sha256(path.read_bytes()).hexdigest() == shard.sha256
        name = path.stem
        schema = pq.read_schema(path)
        assert schema.remove_metadata().equals(stats_schema(name).remove_metadata())
        assert schema.metadata[METADATA_TABLE_KEY] == f"stats.{name}".encode()
        assert all(field.metadata and field.metadata[b"description"] for field in schema)
        assert pq.read_metadata(path).num_rows == shard.rows == tables[name].height
    category = duckdb.sql(
        f"select value, dialogues from read_parquet('{run}/stats/marginals.parquet') where dimension = 'category' order by value"
    ).fetchall()
    assert category == sorted(Counter(d.character.category for d in sample_corpus()).items())

    write_stats(run, compute_stats(run))  # no comparison this time: stale deltas must go
    assert not (run / "stats" / "deltas.parquet").exists()
    with pytest.raises(KeyError, match="bogus"):
        write_stats(run, {"bogus": tables["funnel"]})


def test_a_run_that_rejected_everything(tmp_path: Path):
    write_run(tmp_path, [], sample_rejects())
    tables = compute_stats(tmp_path)
    assert tables["run_summary"].select("dialogues", "turns", "characters", "rejects").row(0) == (0, 0, 0, len(sample_rejects()))
    assert tables["composition_shares"].height == 0
    assert tables["distributions"]["count"].sum() == 0
    write_stats(tmp_path, tables)


def test_a_folder_without_manifest_is_named(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match=r"manifest\.json.*not a finished run"):
        compute_stats(tmp_path)
    (tmp_path / "manifest.json").write_text("{}", encoding="utf-8")
    with pytest.raises(ValueError, match=r"manifest\.json: not a valid run manifest"):
        compute_stats(tmp_path)


def test_docs_document_every_stats_column():
    doc = (Path(__file__).resolve().parents[2] / "docs" / "dashboard.md").read_text(encoding="utf-8")
    sections = re.split(r"^### `stats/(\w+)\.parquet`$", doc, flags=re.MULTILINE)
    documented = {sections[i]: re.findall(r"^\| `(\w+)` \|", sections[i + 1], flags=re.MULTILINE) for i in range(1, len(sections), 2)}
    assert documented == {name: stats_schema(name).names for name in STATS_MODELS}


def test_the_documented_cross_run_query_works(tmp_path: Path):
    expected = []
    for run_id, corpus in (("run-a", sample_corpus()[:2]), ("run-b", sample_corpus())):
        write_run(tmp_path / "runs" / run_id, corpus, run_id=run_id)
        write_stats(tmp_path / "runs" / run_id, compute_stats(tmp_path / "runs" / run_id))
        expected += Counter(d.character.category for d in corpus).items()
    doc = (Path(__file__).resolve().parents[2] / "docs" / "dashboard.md").read_text(encoding="utf-8")
    query = re.search(r"```sql\n(-- dialogues per category over every run.*?;)", doc, flags=re.DOTALL).group(1)
    rows = duckdb.sql(query.replace("'runs/", f"'{tmp_path}/runs/")).fetchall()
    assert sorted((category, dialogues) for _, category, dialogues, _ in rows) == sorted(expected)
