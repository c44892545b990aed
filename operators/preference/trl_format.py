"""Preference pairs in TRL's conversational preference format: `prompt`, `chosen`, `rejected` message lists.

`prompt` is the system message (the character's profile) followed by the context turns, the user's as
`user` and the character's as `assistant`; `chosen` and `rejected` are one `assistant` message each. This
is what `trl.DPOTrainer` reads with its chat template (see TRL's dataset formats: "conversational",
"preference"). `chardial export dpo` (training) is the command; this module is the mapping.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq


def system_prompt(character: dict[str, Any], user_role: str | None) -> str:
    """The character's profile as the system message; the user's role when known."""
    prompt = (character.get("profile_text") or "").strip() or f"You are {character['name']}."
    if user_role:
        prompt += f"\n\nYou are talking to: {user_role}"
    return prompt


def trl_record(pair: dict[str, Any]) -> dict[str, Any]:
    """One pair (a row of the pairs table) as a TRL conversational preference example."""
    character = pair["character"]
    prompt = [{"role": "system", "content": system_prompt(character, pair.get("user_role"))}]
    for turn in pair["context"] or []:
        prompt.append({"role": "assistant" if turn["role"] == "character" else "user", "content": turn["text"]})
    return {
        "prompt": prompt,
        "chosen": [{"role": "assistant", "content": pair["chosen"]["text"]}],
        "rejected": [{"role": "assistant", "content": pair["rejected"]["text"]}],
    }


def read_pairs(folder: str | Path, split: str | None = None) -> Iterator[dict[str, Any]]:
    """Rows of a published `pairs/` folder (or a run folder), optionally one split, in pair_id order."""
    path = Path(folder)
    if (path / "pairs").is_dir():
        path = path / "pairs"
    files = sorted(path.glob("part-*.parquet"))
    if not files:
        raise FileNotFoundError(f"{folder}: no pairs/part-*.parquet files (run a pipeline with preference.pairs)")
    rows = [r for f in files for r in pq.read_table(f).to_pylist() if split is None or r["split"] == split]
    yield from sorted(rows, key=lambda r: r["pair_id"])


def write_trl_jsonl(pairs: Iterable[dict[str, Any]], out: str | Path) -> int:
    """Write TRL examples as JSONL (loadable with `datasets.load_dataset("json", ...)`); returns the count."""
    count = 0
    with open(out, "w", encoding="utf-8") as handle:
        for pair in pairs:
            handle.write(json.dumps(trl_record(pair), ensure_ascii=False) + "\n")
            count += 1
    return count
