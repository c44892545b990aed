"""`read.script`: a script file to dialogue rows per scene, with rejects naming file and line."""

from __future__ import annotations

from operators.base import RunContext
from operators.columns import INPUT_LINE, REJECT_DETAIL, REJECT_REASON
from operators.readers.script import ScriptConfig, ScriptReader


def entries(value) -> dict:
    """A dict field read back from Arrow: map entries are (key, value) tuples, struct entries dicts."""
    return dict((e["key"], e["value"]) if isinstance(e, dict) else e for e in value)


ZH = "第一场 客厅\n周朴园：繁漪，你过来。\n繁漪：你叫我做什么？\n这里没人说话。\n周朴园：喝药。\n繁漪：我不喝。\n"


def test_zh_script_rows_and_no_speaker_reject(tmp_path):
    path = tmp_path / "雷雨.txt"
    path.write_bytes(ZH.encode("gb18030"))
    reader = ScriptReader(ScriptConfig(paths=[str(path)], min_lines=1), RunContext(staging_dir=str(tmp_path / "staging")))
    rows = [row for table in reader.read(str(path), 10) for row in table.to_pylist()]
    dialogues = [r for r in rows if r[REJECT_REASON] is None]
    rejects = [r for r in rows if r[REJECT_REASON] is not None]
    assert {r["character"]["name"] for r in dialogues} == {"周朴园", "繁漪"}
    zhou = next(r for r in dialogues if r["character"]["name"] == "周朴园")
    assert [t["role"] for t in zhou["turns"]] == ["character", "user", "character", "user"]
    assert zhou["user_role"] == "繁漪" and zhou["character"]["work"] == "雷雨" and entries(zhou["meta"])["format"] == "zh"
    assert [(r[REJECT_REASON], r[INPUT_LINE]) for r in rejects] == [("no_speaker", 4)]
    assert f"{path}:line 4" in rejects[0][REJECT_DETAIL]
    assert len(list((tmp_path / "staging" / "quotes").iterdir())) == 1
