"""A content-addressed LLM response cache on local disk or any fsspec path.

The key is a SHA-256 of everything that determines the response (model, sampling parameters with the
seed, messages, response schema, template version) and nothing that only interprets it: parsers and
validators can change without paying for new calls. One small JSON file per key, written atomically,
so concurrent actors and crashed runs never leave a half-written entry.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from typing import Any

import fsspec
from fsspec.implementations.local import LocalFileSystem


def cache_key(payload: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of `payload` (sorted keys, no whitespace, UTF-8)."""
    canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class ResponseCache:
    """Maps a key to a stored response (a JSON object); `url` is a folder path or fsspec URL."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.fs, self.root = fsspec.core.url_to_fs(url)
        self.local = isinstance(self.fs, LocalFileSystem)

    def _path(self, key: str) -> str:
        # two-level fan-out keeps directories small at millions of entries
        return f"{self.root.rstrip('/')}/{key[:2]}/{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        """The stored response, or None; an unreadable entry counts as a miss and is rewritten later."""
        path = self._path(key)
        try:
            with self.fs.open(path, "rb") as handle:
                value = json.loads(handle.read().decode("utf-8"))
        except FileNotFoundError:
            return None
        except (ValueError, UnicodeDecodeError):
            return None
        return value if isinstance(value, dict) else None

    def put(self, key: str, value: dict[str, Any]) -> None:
        """Store `value` under `key`; last writer wins (both wrote the same content-addressed answer)."""
        path = self._path(key)
        data = json.dumps(value, ensure_ascii=False, sort_keys=True).encode("utf-8")
        if self.local:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            temporary = f"{path}.{uuid.uuid4().hex}.tmp"
            with open(temporary, "wb") as handle:
                handle.write(data)
            os.replace(temporary, path)
        else:
            # object stores publish a put atomically
            with self.fs.open(path, "wb") as handle:
                handle.write(data)

    def __len__(self) -> int:
        return len(self.fs.glob(f"{self.root.rstrip('/')}/*/*.json"))
