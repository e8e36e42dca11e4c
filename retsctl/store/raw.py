"""Raw records as stored: each record's values (:mod:`retsctl.rets.values`: escaped as JSON strings,
TAB between them) against its list of column names.

A record's JSON object repeats every field name. Stored as values alone, with the names once per
column list (table ``raw_columns``), a listing takes half the bytes, and a sync writes half as much.
The ``properties`` view and :func:`raw_object` put names and values back together: byte for byte
the object orjson makes of the record. Records cached before (0004) keep their object
(``columns_id`` NULL) until they change.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import TYPE_CHECKING

import orjson

from retsctl.rets.values import decode_values

if TYPE_CHECKING:
    from sqlite_utils import Database

Columns = tuple[str, ...]


def columns_json(columns: Columns) -> bytes:
    return orjson.dumps(list(columns))


def record_hash(columns: bytes, values: bytes) -> str:
    """The fingerprint of one raw version (its column list as JSON, its escaped values): SHA-256,
    which current CPUs compute in hardware, its first 128 bits in hex."""
    return _with(_hasher(columns), values)


def _hasher(columns: bytes) -> hashlib._Hash:
    return hashlib.sha256(columns + b"\n")


def _with(prefix: hashlib._Hash, values: bytes) -> str:
    digest = prefix.copy()
    digest.update(values)
    return digest.hexdigest()[:32]


class _Prefixes:
    """The hash prefix of each column list met (the records of a page share one columns tuple, so
    the last one is checked by identity first)."""

    def __init__(self) -> None:
        self._known: dict[Columns, hashlib._Hash] = {}
        self._last: Columns | None = None
        self._last_prefix = _hasher(b"")

    def hash(self, columns: Columns, values: bytes) -> str:
        if columns is not self._last:
            prefix = self._known.get(columns)
            if prefix is None:
                if len(self._known) >= _PREFIXES_KEPT:
                    self._known.clear()
                prefix = self._known[columns] = _hasher(columns_json(columns))
            self._last, self._last_prefix = columns, prefix
        return _with(self._last_prefix, values)


_PREFIXES_KEPT = 64
values_hash = _Prefixes().hash  # record_hash of a record's columns and values


class ColumnLists:
    """The ``raw_columns`` id of each column list a store writes (the last one checked by identity)."""

    def __init__(self) -> None:
        self._ids: dict[Columns, int] = {}
        self._last_stored: Columns | None = None
        self._last_id = 0

    def stored_id(self, db: Database, columns: Columns) -> int:
        """The ``raw_columns`` id of a column list, stored first if new (in the caller's transaction)."""
        if columns is self._last_stored:
            return self._last_id
        known = self._ids.get(columns)
        if known is None:
            text = columns_json(columns)
            db.execute("INSERT OR IGNORE INTO raw_columns (columns) VALUES (CAST(? AS TEXT))", [text])
            (known,) = db.execute("SELECT id FROM raw_columns WHERE columns = CAST(? AS TEXT)", [text]).fetchone()
            self._ids[columns] = known
        self._last_stored, self._last_id = columns, known
        return known


@lru_cache(maxsize=64)
def _names(columns: str) -> list[str]:
    return orjson.loads(columns)  # type: ignore[no-any-return]


def raw_object(record: str, columns: str | None) -> dict[str, str]:
    """A stored raw record as a dict: values zipped with their column list, or an older object."""
    if columns is None:
        return orjson.loads(record)  # type: ignore[no-any-return]
    return dict(zip(_names(columns), decode_values(record), strict=True))
