"""Pipeline YAML validation: every problem is reported with its YAML path and line, before data moves."""

from __future__ import annotations

import pytest

from pipelines.spec import PipelineError, load_pipeline
from tests.conftest import REPO


def write(tmp_path, text: str):
    (tmp_path / "data.jsonl").write_text("{}\n")
    path = tmp_path / "p.yaml"
    path.write_text(text)
    return path


def errors_of(path) -> str:
    with pytest.raises(PipelineError) as error:
        load_pipeline(path)
    return str(error.value)


def test_quickstart_is_valid_and_hash_is_stable():
    first = load_pipeline(REPO / "pipelines" / "quickstart.yaml")
    second = load_pipeline(REPO / "pipelines" / "quickstart.yaml")
    assert [s.op for s in first.operators] == ["normalize.text", "filters.length", "dedup.exact", "split.by_character"]
    assert first.hash() == second.hash()
    assert len(first.inputs[0]) == 2
    assert first.canonical()["operators"][1]["max_turns"] == 400  # defaults are filled in


def test_unknown_operator_names_path_line_and_known_names(tmp_path):
    message = errors_of(write(tmp_path, "name: x\nsources:\n  - op: read.jsonl\n    paths: [data.jsonl]\noperators:\n  - op: filters.lenght\n"))
    assert "p.yaml:6: operators[0].op: unknown operator 'filters.lenght'" in message
    assert "filters.length" in message


def test_unknown_key_and_wrong_type_are_both_reported(tmp_path):
    text = "name: x\nsources:\n  - op: read.jsonl\n    paths: [data.jsonl]\noperators:\n  - op: filters.length\n    min_turn: 2\n  - op: split.by_character\n    ratios: {train: 0.5}\n  - op: dedup.exact\n    source_priority: banana\n"
    message = errors_of(write(tmp_path, text))
    assert "p.yaml:7: operators[0].min_turn: Extra inputs are not permitted (filters.length)" in message
    assert "p.yaml:9: operators[1].ratios: Value error, ratios must be non-negative and sum to 1" in message
    assert "p.yaml:11: operators[2].source_priority: Input should be a valid list (dedup.exact)" in message


def test_missing_input_file_and_bad_resources(tmp_path):
    text = "name: x\nsources:\n  - op: read.jsonl\n    paths: [data.jsonl, nowhere.jsonl, 'none-*.jsonl']\noperators:\n  - op: normalize.text\n    resources: {cpus: -1}\n"
    message = errors_of(write(tmp_path, text))
    assert "sources[0].paths[1]: no such file or folder" in message and "nowhere.jsonl" in message
    assert "sources[0].paths[2]: no file matches 'none-*.jsonl'" in message
    assert "operators[0].resources.cpus: Input should be greater than 0" in message


def test_structure_errors(tmp_path):
    assert "sources: Field required" in errors_of(write(tmp_path, "name: x\noperators: []\n"))
    assert "p.yaml:3: extra: Extra inputs are not permitted" in errors_of(write(tmp_path, "name: x\nsources: [{op: read.jsonl, paths: [data.jsonl]}]\nextra: 1\n"))
    message = errors_of(write(tmp_path, "name: x\nsources:\n  - op: normalize.text\n"))
    assert "sources[0].op: normalize.text is not a source: it belongs under operators" in message
    message = errors_of(write(tmp_path, "name: x\nsources: [{op: read.jsonl, paths: [data.jsonl]}]\noutput: {rows_per_shard: 0}\n"))
    assert "output.rows_per_shard: Input should be greater than or equal to 1" in message
    assert "invalid YAML" in errors_of(write(tmp_path, "name: [x\n"))


def test_user_operator_by_import_path(tmp_path):
    text = "name: x\nsources: [{op: read.jsonl, paths: [data.jsonl]}]\noperators:\n  - op: 'tests.chaos:PauseOnce'\n    marker_dir: /tmp/m\n  - op: 'tests.chaos:Nope'\n"
    message = errors_of(write(tmp_path, text))
    assert "operators[1].op: cannot import operator 'tests.chaos:Nope'" in message
    assert "operators[0]" not in message


def test_llm_steps_default_to_synthesis_rows_but_the_judge_scores_everything(tmp_path, monkeypatch):
    monkeypatch.setenv("CHARDIAL_LLM_BASE_URL", "http://127.0.0.1:9/v1")
    text = (
        "name: x\nsources: [{op: read.jsonl, paths: [data.jsonl]}]\noperators:\n"
        "  - {op: synthesize.dialogues, llm: {model: m}}\n  - {op: quality.judge, llm: {model: m}}\n"
        "  - {op: filters.length, only: {language: [zh, en]}}\n"
    )
    pipeline = load_pipeline(write(tmp_path, text))
    assert [s.only for s in pipeline.operators] == [{"source": ["synthesis"]}, {}, {"language": ["zh", "en"]}]
    assert "`only` maps columns" in errors_of(write(tmp_path, "name: x\nsources: [{op: read.jsonl, paths: [data.jsonl]}]\noperators:\n  - {op: normalize.text, only: {turns: x}}\n"))


def test_file_settings_resolve_beside_the_pipeline_only_when_they_name_a_path(tmp_path):
    (tmp_path / "optout.txt").write_text("user:u1\n")
    text = (
        "name: x\nsources: [{op: read.jsonl, paths: [data.jsonl]}]\noperators:\n"
        "  - {op: privacy.consent, opt_out_file: optout.txt, pseudonymize: false}\n"
        "  - {op: 'tests.chaos:PauseOnce', marker_dir: m, on_file: part-003}\n"
    )
    consent, pause = load_pipeline(write(tmp_path, text)).operators
    assert consent.config.opt_out_file == str(tmp_path / "optout.txt")
    assert pause.config.on_file == "part-003" and pause.config.marker_dir == "m"
