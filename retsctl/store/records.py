"""Raw records and ``properties`` rows in the local cache, written a page at a time.

Every record is kept raw (every field as sent, as values against its column list: see
:mod:`retsctl.store.raw`) whether or not it maps; mapped rows go to
``property_rows`` (read as the ``properties`` view, whose ``raw`` is the raw record) and, when they
are new or really changed, into the outbox for the sinks. A record whose raw content did not change
is counted ``unchanged`` and not written again.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import orjson
from sqlite_utils import Database

from retsctl.properties import ALL_COLUMNS, PropertyRow
from retsctl.store.raw import ColumnLists, Columns, values_hash

# SQLite limits bound parameters per statement; look keys up in slices of this size.
KEY_LOOKUP_SLICE = 500
RAW_COLUMNS = ("source", "resource", "class_name", "key", "modified_at", "record", "record_hash", "run_id",
               "fetched_at", "deleted_at", "columns_id", "source_modified")
# A mapped row as it travels to the store (see stored_row); the write adds when, and that it is live.
# The record itself lives in raw_records only, found again by resource; record_hash names the raw
# version this team's row was mapped from (raw_records are shared between teams).
STORED_ROW_COLUMNS = ("resource", *(name for name in ALL_COLUMNS if name not in ("raw", "synced_at", "deleted_at")),
                      "record_hash")
PROPERTY_ROW_COLUMNS = (*STORED_ROW_COLUMNS, "synced_at", "deleted_at")
_ROW_KEY = tuple(STORED_ROW_COLUMNS.index(name) for name in ("team_id", "source", "external_id"))
OUTBOX_COLUMNS = ("team_id", "source", "external_id", "run_id", "enqueued_at")


def replace_statement(table: str, columns: Sequence[str], utf8_text: Collection[str] = ()) -> str:
    """``INSERT OR REPLACE`` of whole rows (what sqlite-utils' ``insert_all(replace=True)`` sends).

    Columns in ``utf8_text`` take UTF-8 bytes and store them as TEXT, so the record's JSON never
    becomes a Python str (up to 4 bytes a character) only to be encoded back when bound.
    """
    names = ", ".join(f"[{name}]" for name in columns)
    values = ", ".join("CAST(? AS TEXT)" if name in utf8_text else "?" for name in columns)
    return f"INSERT OR REPLACE INTO [{table}] ({names}) VALUES ({values})"


REPLACE_RAW = replace_statement("raw_records", RAW_COLUMNS, utf8_text={"record"})
REPLACE_PROPERTY = replace_statement("property_rows", PROPERTY_ROW_COLUMNS)
REPLACE_OUTBOX = replace_statement("outbox", OUTBOX_COLUMNS)


@dataclass(frozen=True)
class Feed:
    """Which slice of which server a run syncs, and where its rows land."""

    source: str
    resource: str
    class_name: str
    team_id: str = ""


@dataclass
class PageOutcome:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicates: list[str] = field(default_factory=list)
    photos: int = 0  # photo URLs found for the changed records (when the run fetches photos)


@dataclass(frozen=True)
class StoredVersion:
    raw_hash: str
    run_id: int | None
    deleted: bool
    row_hash: str | None  # the raw version this team's live mapped row was made from (None: no live row)

    def same_as(self, record: StagedRecord) -> bool:
        row_current = not record.mapped or self.row_hash == record.raw_hash
        return self.raw_hash == record.raw_hash and not self.deleted and row_current


@dataclass
class StagedRecord:
    """One fetched record on its way into the cache: raw always, mapped row when it mapped.

    Small enough to hand to a writer process: the record travels as its columns (a tuple the
    records of a page share) and its escaped values, the row without ``raw`` (as ``stored_row``
    makes it), and its hash (taken where it is staged, beside the fetching).
    """

    key: str
    modified_at: str | None  # the mapped row's (normalised) modification time
    columns: Columns
    values: bytes  # escaped values (retsctl.rets.values; UTF-8) in ``columns`` order: what raw_records.record holds
    row: PropertyRow | None = None
    source_modified: str | None = None  # the timestamp field as sent (what keys-first compares)
    raw_hash: str = ""
    stored: tuple[object, ...] | None = None  # the row as stored_row makes it, when it travelled so

    @property
    def mapped(self) -> bool:
        return self.row is not None or self.stored is not None

    def __post_init__(self) -> None:
        if not self.raw_hash:
            self.raw_hash = values_hash(self.columns, self.values)

    def fields(self, resource: str) -> tuple[object, ...]:
        """The record as plain values, ``StagedRecord(*fields)`` again, its row as stored: cheaper to
        pickle and to write than the objects (for a writer process, on the run's side)."""
        stored = None if self.row is None else stored_row(self.row, resource, self.raw_hash)
        return (self.key, self.modified_at, self.columns, self.values, None, self.source_modified, self.raw_hash,
                stored)


_MAPPED_NAMES = STORED_ROW_COLUMNS[1:-1]
_NUMBERS = tuple(_MAPPED_NAMES.index(name) for name in ("list_price", "bathrooms"))
_PHOTOS = _MAPPED_NAMES.index("photo_urls")


def stored_row(row: PropertyRow, resource: str, record_hash: str) -> tuple[object, ...]:
    """A mapped row in :data:`STORED_ROW_COLUMNS` order: numbers as numbers, lists as JSON text;
    ``raw`` is not stored here."""
    values = [row.get(name) for name in _MAPPED_NAMES]
    for index in _NUMBERS:
        value = values[index]
        if isinstance(value, Decimal):
            values[index] = int(value) if value == value.to_integral_value() else float(value)
    values[_PHOTOS] = orjson.dumps(values[_PHOTOS] or []).decode()
    return (resource, *values, record_hash)


class RecordStore:
    """Writes one feed's pages into ``raw_records`` and ``property_rows`` (caller owns the transaction)."""

    def __init__(self, db: Database, feed: Feed) -> None:
        self.db = db
        self.feed = feed
        self.column_lists = ColumnLists()

    def known_versions(self, keys: Sequence[str]) -> dict[str, StoredVersion]:
        """For the given keys: what the cache holds (raw hash, writing run, deleted, mapped row)."""
        found: dict[str, StoredVersion] = {}
        for start in range(0, len(keys), KEY_LOOKUP_SLICE):
            part = keys[start : start + KEY_LOOKUP_SLICE]
            marks = ",".join("?" * len(part))
            rows = self.db.execute(
                "SELECT r.key, r.record_hash, r.run_id, r.deleted_at IS NOT NULL, (SELECT CASE WHEN p.deleted_at IS NULL "
                "THEN p.record_hash END FROM property_rows p "
                "WHERE p.team_id = ? AND p.source = r.source AND p.source_key = r.key AND p.resource = r.resource) "
                f"FROM raw_records r WHERE r.source = ? AND r.resource = ? AND r.key IN ({marks})",
                [self.feed.team_id, self.feed.source, self.feed.resource, *part],
            ).fetchall()
            found.update({row[0]: StoredVersion(*row[1:]) for row in rows})
        return found

    def classify(self, staged: Sequence[StagedRecord], *, run_id: int) -> tuple[list[StagedRecord], PageOutcome]:
        """Which records are new or changed (to be written), and the page's counts.

        A record is unchanged only when its raw content is the same, it is not marked deleted,
        and (when it maps) this feed's team has its row made from that same content. A key already written by this
        same run is a duplicate across pages (servers shift data between Offset pages); it is
        counted, and stored once.
        """
        outcome = PageOutcome()
        known = self.known_versions([s.key for s in staged])
        changed: list[StagedRecord] = []
        for record in staged:
            previous = known.get(record.key)
            if previous is not None and previous.run_id == run_id:
                outcome.duplicates.append(record.key)
            if previous is not None and previous.same_as(record):
                outcome.unchanged += 1
                continue
            if previous is None:
                outcome.inserted += 1
            else:
                outcome.updated += 1
            known[record.key] = StoredVersion(record.raw_hash, run_id, False, record.raw_hash if record.mapped else None)
            changed.append(record)
        return changed, outcome

    def write(self, changed: Sequence[StagedRecord], *, run_id: int, now: str) -> None:
        """Store new or changed records: raw always, mapped rows into property_rows and the outbox.

        One prepared statement per table for the whole page, inside the caller's transaction (per-row
        dict handling and per-chunk commits through sqlite-utils cost more than the pull itself).
        """
        conn = self.db.conn
        conn.executemany(REPLACE_RAW, [self._raw_values(s, run_id=run_id, now=now) for s in changed])
        resource = self.feed.resource
        rows = [s.stored or stored_row(s.row, resource, s.raw_hash) for s in changed if s.mapped]  # type: ignore[arg-type]
        conn.executemany(REPLACE_PROPERTY, [(*row, now, None) for row in rows])
        team, source, external_id = _ROW_KEY
        conn.executemany(REPLACE_OUTBOX, [(row[team], row[source], row[external_id], run_id, now) for row in rows])

    def _raw_values(self, staged: StagedRecord, *, run_id: int, now: str) -> tuple[object, ...]:
        feed = self.feed
        columns_id = self.column_lists.stored_id(self.db, staged.columns)
        return (feed.source, feed.resource, feed.class_name, staged.key, staged.modified_at, staged.values,
                staged.raw_hash, run_id, now, None, columns_id, staged.source_modified)

    def mark_deleted(self, keys: Iterable[str], *, now: str) -> int:
        """Soft-delete listings the server no longer has: the shared raw record and this team's row.

        Returns how many of this team's listings were marked (each also queued for the sinks).
        """
        count = 0
        for key in keys:
            self.db.execute(
                "UPDATE raw_records SET deleted_at = ? WHERE source = ? AND resource = ? AND key = ? AND deleted_at IS NULL",
                [now, self.feed.source, self.feed.resource, key],
            )
            rows = self.db.execute(
                "UPDATE property_rows SET deleted_at = ?, synced_at = ? WHERE team_id = ? AND source = ? "
                "AND resource = ? AND source_key = ? AND deleted_at IS NULL RETURNING team_id, source, external_id",
                [now, now, self.feed.team_id, self.feed.source, self.feed.resource, key],
            ).fetchall()
            self.db.conn.executemany(REPLACE_OUTBOX, [(*row, None, now) for row in rows])
            count += len(rows)
        return count

    def live_keys_not_in(self, seen_table: str) -> list[str]:
        """Keys of this feed and class that this team (or the raw cache) holds as live but that are
        missing from ``seen_table`` (one ``key`` column)."""
        feed = self.feed
        rows = self.db.execute(
            f"SELECT p.source_key FROM property_rows p JOIN raw_records r ON r.source = p.source "
            f"AND r.resource = p.resource AND r.key = p.source_key AND r.class_name = ? "
            f"WHERE p.team_id = ? AND p.source = ? AND p.resource = ? AND p.deleted_at IS NULL "
            f"AND p.source_key NOT IN (SELECT key FROM {seen_table}) "
            f"UNION SELECT key FROM raw_records WHERE source = ? AND resource = ? AND class_name = ? "
            f"AND deleted_at IS NULL AND key NOT IN (SELECT key FROM {seen_table})",
            [feed.class_name, feed.team_id, feed.source, feed.resource, feed.source, feed.resource, feed.class_name],
        ).fetchall()
        return [key for (key,) in rows]
