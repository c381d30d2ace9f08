"""One on-disk cache for every external call fvqa makes (search backends, model calls).

A SQLite file in WAL mode, safe for many threads and processes writing at once. Entries are
keyed by a namespace (the backend or endpoint), the call's parameters and the content hash
of its input. Three modes:

- ``rw``: read hits, store new successes (the default);
- ``replay``: read only; a miss raises `CacheMiss` and the caller must not call out;
- ``off``: neither read nor write.

Only successes are ever stored: callers put a value after a call succeeded and never for a
failure, so a transient error is retried next time instead of being replayed forever.
"""

from __future__ import annotations

import enum
import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


def user_cache_dir() -> Path:
    """Where fvqa keeps caches and exported models: ``$FVQA_CACHE_DIR``, else
    ``$XDG_CACHE_HOME/fvqa``, else ``~/.cache/fvqa``."""
    if os.environ.get("FVQA_CACHE_DIR"):
        return Path(os.environ["FVQA_CACHE_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "fvqa"


class CacheMode(enum.StrEnum):
    READ_WRITE = "rw"
    REPLAY = "replay"
    OFF = "off"


class CacheMiss(LookupError):
    """Replay mode found no entry: the run would have needed an external call."""


def cache_key(namespace: str, params: dict[str, Any], input_hash: str = "") -> str:
    """The key of one call: a digest of its namespace, parameters and input content hash."""
    payload = json.dumps({"ns": namespace, "params": params, "input": input_hash}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


class Cache:
    """A key-value store of successful call results (bytes), shared by threads and processes."""

    def __init__(self, path: str | Path | None, mode: CacheMode | str = CacheMode.READ_WRITE) -> None:
        self.mode = CacheMode(mode)
        self.path = Path(path) if path is not None else None
        if self.path is None and self.mode is not CacheMode.OFF:
            raise ValueError("a cache needs a path unless its mode is off")
        self._local = threading.local()
        if self.path is not None and self.mode is CacheMode.REPLAY and not self.path.exists():
            raise FileNotFoundError(f"replay cache {self.path} does not exist")
        if self.path is not None and self.mode is CacheMode.READ_WRITE:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._connect() as db:
                db.execute(
                    "CREATE TABLE IF NOT EXISTS entries (key TEXT PRIMARY KEY, namespace TEXT NOT NULL,"
                    " value BLOB NOT NULL, created REAL NOT NULL)"
                )

    def _connect(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            assert self.path is not None
            if self.mode is CacheMode.REPLAY:
                db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30)
            else:
                db = sqlite3.connect(self.path, timeout=30)
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
        return db

    def get(self, key: str) -> bytes | None:
        """The stored value, None on a miss; in replay mode a miss raises CacheMiss."""
        if self.mode is CacheMode.OFF:
            return None
        row = self._connect().execute("SELECT value FROM entries WHERE key = ?", (key,)).fetchone()
        if row is None and self.mode is CacheMode.REPLAY:
            raise CacheMiss(f"no cached result for key {key[:16]}... in {self.path} (replay mode makes no calls)")
        return None if row is None else bytes(row[0])

    def put(self, key: str, namespace: str, value: bytes) -> None:
        """Store a successful result (ignored unless the mode is rw)."""
        if self.mode is not CacheMode.READ_WRITE:
            return
        with self._connect() as db:
            db.execute(
                "INSERT OR REPLACE INTO entries (key, namespace, value, created) VALUES (?, ?, ?, ?)",
                (key, namespace, value, time.time()),
            )

    def get_or_compute(
        self,
        key: str,
        namespace: str,
        compute: Callable[[], T],
        encode: Callable[[T], bytes],
        decode: Callable[[bytes], T],
        *,
        succeeded: Callable[[T], bool] = lambda _: True,
    ) -> tuple[T, bool]:
        """The cached value if any, else `compute()` (stored when `succeeded`); and whether it was a hit."""
        hit = self.get(key)
        if hit is not None:
            return decode(hit), True
        value = compute()
        if succeeded(value):
            self.put(key, namespace, encode(value))
        return value, False

    def __len__(self) -> int:
        if self.mode is CacheMode.OFF:
            return 0
        return int(self._connect().execute("SELECT COUNT(*) FROM entries").fetchone()[0])

    def content_hash(self) -> str:
        """A digest of every entry, for run provenance: equal caches give equal hashes."""
        digest = hashlib.sha256()
        if self.mode is not CacheMode.OFF:
            for key, value in self._connect().execute("SELECT key, value FROM entries ORDER BY key"):
                digest.update(key.encode() + hashlib.sha256(value).digest())
        return "sha256:" + digest.hexdigest()

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None
