"""read.card: Character Card V1/V2/V3 as JSON and PNG, macros, examples, extensions, bad cards."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from operators.ingest.card import dialogue_card, example_lines, write_card_png
from tests.operators.ingest.harness import comparable, read, round_trip, split

V2 = {
    "spec": "chara_card_v2",
    "spec_version": "2.0",
    "data": {
        "name": "Seraphina",
        "description": "{{char}} is the guardian of Eldoria's forest. She found {{user}} wounded.",
        "personality": "warm, protective, speaks softly",
        "scenario": "{{user}} wakes up in {{char}}'s glade.",
        "first_mes": "*{{char}} kneels beside you.* Rest, {{user}}. You are safe here.",
        "mes_example": "<START>\n{{user}}: Who are you?\n{{char}}: I am Seraphina.\nI keep this forest.\n<START>\n{{user}}: Why help me?\n{{char}}: Because no one else would.",
        "creator_notes": "Be gentle.",
        "system_prompt": "",
        "post_history_instructions": "",
        "alternate_greetings": ["Hello again, {{user}}."],
        "tags": ["Fantasy", "female"],
        "creator": "someone",
        "character_version": "1.2",
        "extensions": {"depth_prompt": {"depth": 4, "prompt": "stay kind"}, "talkativeness": "0.5"},
        "character_book": {"entries": [{"keys": ["glade"], "content": "A hidden clearing.", "extensions": {}, "enabled": True, "insertion_order": 0}], "extensions": {}},
        "x_unknown_field": [1, 2],
    },
}
V3 = {"spec": "chara_card_v3", "spec_version": "3.0", "data": {**V2["data"], "nickname": "Sera", "assets": [{"type": "icon", "uri": "ccdefault:", "name": "main", "ext": "png"}], "group_only_greetings": []}}


def _png(path: Path, chunks: dict[str, str]) -> Path:
    info = PngInfo()
    for key, value in chunks.items():
        info.add_text(key, value)
    Image.new("RGB", (4, 4)).save(path, format="PNG", pnginfo=info)
    return path


def _b64(card: dict) -> str:
    return base64.b64encode(json.dumps(card).encode()).decode()


def test_v2_json_maps_profile_resolves_macros_and_parses_examples(tmp_path: Path) -> None:
    path = tmp_path / "sera.json"
    path.write_text(json.dumps(V2), encoding="utf-8")
    dialogues, rejects = split(read("card", path, user_name="Traveller"))
    assert not rejects
    dialogue = dialogues[0]
    character = dialogue["character"]
    assert character["name"] == "Seraphina"
    assert character["profile_text"] == (
        "Seraphina is the guardian of Eldoria's forest. She found Traveller wounded.\n\n"
        "Personality: warm, protective, speaks softly\n\nScenario: Traveller wakes up in Seraphina's glade."
    )
    assert character["styles"]["speaking_style"] == "warm, protective, speaks softly"
    assert character["styles"]["example_lines"] == ["I am Seraphina.\nI keep this forest.", "Because no one else would."]
    assert character["attributes"]["extra"] == {"scenario": "Traveller wakes up in Seraphina's glade."}
    assert dialogue["turns"] == [{"role": "character", "speaker": "Seraphina", "text": "*Seraphina kneels beside you.* Rest, Traveller. You are safe here.", "spans": None, "author_id": None}]
    assert (character["category"], dialogue["meta"]["ingest.category_source"]) == ("fictional", "tags")
    kept = json.loads(dialogue["meta"]["card.record"])
    assert kept["data"]["extensions"] == V2["data"]["extensions"] and kept["data"]["x_unknown_field"] == [1, 2]


def test_v3_png_prefers_ccv3_chunk(tmp_path: Path) -> None:
    v2_only = {**V2, "data": {**V2["data"], "name": "Old Name"}}
    path = _png(tmp_path / "sera.png", {"chara": _b64(v2_only), "ccv3": _b64(V3)})
    dialogues, rejects = split(read("card", path))
    assert not rejects
    assert dialogues[0]["character"]["name"] == "Seraphina"
    assert dialogues[0]["character"]["attributes"]["extra"]["nickname"] == "Sera"
    assert json.loads(dialogues[0]["meta"]["card.record"])["spec"] == "chara_card_v3"


def test_v1_card_without_spec_is_read(tmp_path: Path) -> None:
    path = tmp_path / "v1.json"
    path.write_text(json.dumps({"name": "Bob", "description": "A barista and college student.", "first_mes": "Hi {{user}}!"}), encoding="utf-8")
    dialogue = split(read("card", path))[0][0]
    assert dialogue["turns"][0]["text"] == "Hi User!"
    assert dialogue["character"]["category"] == "daily_life" and dialogue["meta"]["ingest.category_source"] == "rules"


@pytest.mark.parametrize(
    ("chunks", "reason"),
    [({"Comment": "hello"}, "missing_card_chunk"), ({"chara": "not base64!!"}, "bad_base64"), ({"chara": base64.b64encode(b"{oops").decode()}, "invalid_json")],
)
def test_bad_png_cards_are_rejects_naming_the_file(tmp_path: Path, chunks: dict[str, str], reason: str) -> None:
    path = _png(tmp_path / "bad.png", chunks)
    table = read("card", path)
    assert table.num_rows == 1
    _, rejects = split(table)
    assert rejects[0]["_reject_reason"] == reason and rejects[0]["_reject_detail"].startswith(str(path))


def test_not_a_png_and_unknown_versions_are_rejects(tmp_path: Path) -> None:
    fake = tmp_path / "fake.png"
    fake.write_bytes(b"GIF89a not a png")
    assert split(read("card", fake))[1][0]["_reject_reason"] == "invalid_png"
    future = tmp_path / "future.json"
    future.write_text(json.dumps({**V2, "spec_version": "9.0"}), encoding="utf-8")
    reject = split(read("card", future))[1][0]
    assert reject["_reject_reason"] == "unsupported_version" and "'9.0'" in reject["_reject_detail"]
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({**V2, "data": {**V2["data"], "tags": "fantasy"}}), encoding="utf-8")
    reject = split(read("card", wrong))[1][0]
    assert reject["_reject_reason"] == "invalid_record" and "data.tags" in reject["_reject_detail"]


def test_card_without_greeting_keeps_its_profile_with_no_turns(tmp_path: Path) -> None:
    path = tmp_path / "quiet.json"
    path.write_text(json.dumps({**V2, "data": {**V2["data"], "first_mes": ""}}), encoding="utf-8")
    dialogue = split(read("card", path))[0][0]
    assert dialogue["turns"] == [] and dialogue["character"]["name"] == "Seraphina"


def test_round_trip_json_and_png(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "sera.json").write_text(json.dumps(V2), encoding="utf-8")
    first, second, out = round_trip("card", tmp_path / "in" / "sera.json", tmp_path)
    assert comparable(second) == comparable(first)
    assert json.loads((out / "Seraphina.json").read_text(encoding="utf-8")) == V2
    png = tmp_path / "sera.png"
    write_card_png(dialogue_card(first[0]), str(png))
    assert comparable(split(read("card", png))[0]) == comparable(first)


def test_card_built_from_a_canonical_dialogue_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "sera.json"
    path.write_text(json.dumps(V2), encoding="utf-8")
    dialogue = split(read("card", path))[0][0]
    dialogue["meta"].pop("card.record")
    built = dialogue_card(dialogue)
    assert built["spec"] == "chara_card_v2" and built["data"]["first_mes"] == dialogue["turns"][0]["text"]
    out = tmp_path / "built.json"
    out.write_text(json.dumps(built), encoding="utf-8")
    again = split(read("card", out))[0][0]
    assert again["character"]["styles"]["example_lines"] == dialogue["character"]["styles"]["example_lines"]
    assert again["character"]["name"] == "Seraphina" and again["turns"] == dialogue["turns"]


def test_example_lines_handle_names_and_legacy_macros() -> None:
    text = "<START>\n<USER>: hi\n<BOT>: hello there\nMaya: second line\n<START>\nUser: ok\nMaya: *waves*"
    assert example_lines(text, "Maya", "User") == ["hello there", "second line", "*waves*"]


def test_in_a_run_cards_also_write_profiles(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    from operators.base import RunContext
    from operators.ingest.card import CardReader
    from schemas.tables import TABLES

    folder = tmp_path / "cards"
    folder.mkdir()
    (folder / "sera.json").write_text(json.dumps(V2), encoding="utf-8")
    (folder / "broken.json").write_text("{", encoding="utf-8")
    staging = tmp_path / "staging"
    reader = CardReader(CardReader.Config(paths=[str(folder)]), RunContext(run_id="r7", staging_dir=str(staging)))
    for file in sorted(folder.iterdir()):
        list(reader.read(str(file), 10))
    (part,) = (staging / "profiles").glob("*.parquet")
    profiles = pq.read_table(part)
    assert profiles.schema.equals(TABLES["character_profile"].schema, check_metadata=False)
    (profile,) = profiles.to_pylist()
    assert profile["name"] == "Seraphina" and profile["category"] == "fictional" and profile["pipeline_run_id"] == "r7"
    assert profile["styles"]["example_lines"] == ["I am Seraphina.\nI keep this forest.", "Because no one else would."]
