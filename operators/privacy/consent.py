"""`privacy.consent`: sessions of people who opted out never reach the corpus; author ids become pseudonyms.

A row is rejected with reason `opted_out` when its session id (`meta["ingest.session_id"]`) or any of its
turns' author ids is on the opt-out list; its content (turns, user role, meta, raw input) is emptied so
`rejects/` keeps no trace of what the person said. Every other row's `author_id`s are replaced by
`a_` + HMAC-SHA256(salt, id) (16 hex digits): stable across runs with the same salt, not reversible
without it. The salt comes from an environment variable, never from the pipeline file.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from typing import Any, ClassVar

import pyarrow as pa
from pydantic import Field

from operators.base import Filter, OperatorConfig
from operators.columns import RAW
from operators.registry import register
from schemas.arrow import from_arrow_map, to_arrow_map

META_SESSION_ID = "ingest.session_id"


class ConsentConfig(OperatorConfig):
    opt_out_users: list[str] = Field(default_factory=list, description="Author (user) ids whose sessions must not be used.")
    opt_out_sessions: list[str] = Field(default_factory=list, description="Session ids that must not be used.")
    opt_out_file: str | None = Field(None, description="A text file of opt-outs, one per line: `user:<id>` or `session:<id>`; `#` starts a comment.")
    pseudonymize: bool = Field(True, description="Replace author ids by salted pseudonyms.")
    salt_env: str = Field("CHARDIAL_PSEUDONYM_SALT", description="Environment variable holding the pseudonym salt (keep it secret and fixed).")


def pseudonym(author_id: str, salt: bytes) -> str:
    """`a_` + 16 hex digits of HMAC-SHA256(salt, author_id)."""
    return "a_" + hmac.new(salt, author_id.encode("utf-8"), hashlib.sha256).hexdigest()[:16]


def read_opt_outs(path: str) -> tuple[set[str], set[str]]:
    """(user ids, session ids) from an opt-out file; a bad line is an error naming file and line."""
    users, sessions = set(), set()
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            entry = line.split("#", 1)[0].strip()
            if not entry:
                continue
            kind, _, value = entry.partition(":")
            if kind.strip() not in ("user", "session") or not value.strip():
                raise ValueError(f"{path}:{number}: expected `user:<id>` or `session:<id>`, got {entry!r}")
            (users if kind.strip() == "user" else sessions).add(value.strip())
    return users, sessions


@register
class Consent(Filter):
    name: ClassVar[str] = "privacy.consent"
    Config = ConsentConfig
    reads = frozenset({"turns", "meta"})
    writes = frozenset({"turns", "meta", "user_role"})
    summary = "Rejects opted-out sessions and users (reason opted_out, content emptied); replaces author ids by salted pseudonyms."

    def setup(self) -> None:
        config: ConsentConfig = self.config  # type: ignore[assignment]
        self.users, self.sessions = set(config.opt_out_users), set(config.opt_out_sessions)
        if config.opt_out_file:
            users, sessions = read_opt_outs(config.opt_out_file)
            self.users |= users
            self.sessions |= sessions
        self.salt: bytes | None = None
        if config.pseudonymize:
            salt = os.environ.get(config.salt_env)
            if not salt:
                raise RuntimeError(f"privacy.consent: set the pseudonym salt in ${config.salt_env} (a long random secret, the same for every run)")
            self.salt = salt.encode("utf-8")
        self._ready = True

    def verdicts(self, batch: pa.Table) -> tuple[list[str | None], list[str | None]]:
        reasons: list[str | None] = []
        details: list[str | None] = []
        for turns, meta in zip(batch.column("turns").to_pylist(), batch.column("meta").to_pylist(), strict=True):
            session = (from_arrow_map(meta) or {}).get(META_SESSION_ID)
            authors = {t["author_id"] for t in turns or [] if t["author_id"]}
            if session in self.sessions:
                reasons.append("opted_out")
                details.append("the session is on the opt-out list")
            elif authors & self.users:
                reasons.append("opted_out")
                details.append(f"{len(authors & self.users)} author(s) of this session opted out")
            else:
                reasons.append(None)
                details.append(None)
        return reasons, details

    def __call__(self, batch: pa.Table) -> pa.Table:
        if not getattr(self, "_ready", False):
            self.setup()
        batch = super().__call__(batch)
        rejected = [r is not None for r in batch.column("_reject_reason").to_pylist()]
        turns = batch.column("turns").to_pylist()
        metas = batch.column("meta").to_pylist()
        roles = batch.column("user_role").to_pylist()
        raws = batch.column(RAW).to_pylist()
        for index, out in enumerate(rejected):
            if out:
                turns[index], roles[index], raws[index] = [], None, None
                metas[index] = to_arrow_map({"privacy.opted_out": "true"})
            elif self.salt is not None:
                turns[index] = [_with_pseudonym(t, self.salt) for t in turns[index] or []]
        schema = batch.schema
        for name, values in (("turns", turns), ("meta", metas), ("user_role", roles), (RAW, raws)):
            batch = batch.set_column(schema.get_field_index(name), name, pa.array(values, schema.field(name).type))
        return batch


def _with_pseudonym(turn: dict[str, Any], salt: bytes) -> dict[str, Any]:
    if turn["author_id"]:
        turn["author_id"] = pseudonym(turn["author_id"], salt)
    return turn
