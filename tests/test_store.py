"""The local SQLite store: the 0003 migration (``properties`` as a view over ``property_rows`` and
``raw_records``) keeps every row and its raw JSON, and the store writes and reads through it."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import orjson
import pytest
from sqlite_utils import Database
from sqlite_utils.db import View

from retsctl.properties import ALL_COLUMNS, PropertyRow
from retsctl.rets.values import encode_values
from retsctl.store.db import MIGRATIONS, PAGE_SIZE, open_db
from retsctl.store.outbox import Outbox
from retsctl.store.records import Feed, RecordStore, StagedRecord

SOURCE = "http://mls.example/rets/Login"
NOW = "2026-03-01T12:00:00Z"
# Every contract column, each with its SQLite storage class: the migration must keep both.
CONTRACT_SNAPSHOT = (
    f"SELECT {', '.join(ALL_COLUMNS)}, {', '.join(f'typeof({name})' for name in ALL_COLUMNS)} "
    "FROM properties ORDER BY team_id, source, external_id"
)


def raw_record(key: str, **fields: str) -> dict[str, str]:
    return {"ListingKey": key, "ListingId": f"L{key}", "ModificationTimestamp": "2026-02-01T10:00:00Z", **fields}


def insert_0002_rows(db: Database) -> None:
    """Rows as retsctl wrote them before 0003: raw JSON in raw_records.record and properties.raw."""
    records = {
        ("Property", "K1"): raw_record("K1", Remarks="Café & <views> — 日本語 \U0001f3e1", ListPrice="450000.00"),
        ("Property", "K2"): raw_record("K2", Remarks="", ListPrice="1"),
        ("Property", "K3"): raw_record("K3", Remarks="rejected: never mapped"),
        # The same key in another resource of the source, sorting before "Property".
        ("Media", "K1"): raw_record("K1", MediaURL="http://img.example/1.jpg"),
    }
    for (resource, key), record in records.items():
        text = orjson.dumps(record)
        db.execute(
            "INSERT INTO raw_records (source, resource, class_name, key, modified_at, record, record_hash, run_id, "
            "fetched_at, deleted_at) VALUES (?, ?, 'RES', ?, ?, CAST(? AS TEXT), ?, 1, ?, ?)",
            [SOURCE, resource, key, record["ModificationTimestamp"], text, f"hash-{key}", NOW,
             NOW if key == "K2" else None],
        )
    rows = [
        ("team-1", "K1", 450000, 3, 2.5, '["http://img.example/1.jpg"]', None),
        ("team-2", "K1", 450000, 3, 2.5, '["http://img.example/1.jpg"]', None),
        ("team-1", "K2", 1, None, None, "[]", NOW),
    ]
    for team, key, price, beds, baths, photos, deleted in rows:
        db.execute(
            "INSERT INTO properties (team_id, source, external_id, address, list_price, bedrooms, bathrooms, "
            "square_feet, year_built, status, description, photo_urls, source_key, modified_at, raw, synced_at, "
            "deleted_at) VALUES (?, ?, ?, '1 Main St', ?, ?, ?, 1200, 1999, 'active', ?, ?, ?, ?, "
            "CAST(? AS TEXT), ?, ?)",
            [team, SOURCE, f"L{key}", price, beds, baths, records[("Property", key)].get("Remarks") or None, photos,
             key, "2026-02-01T10:00:00Z", orjson.dumps(records[("Property", key)]), NOW, deleted],
        )
    db.conn.commit()


@pytest.fixture
def db_0002(tmp_path: Path) -> Database:
    db = Database(tmp_path / "retsctl.db")
    db.enable_wal()
    MIGRATIONS.apply(db, stop_before="0003_properties_view")
    assert "properties" in db.table_names() and "property_rows" not in db.table_names()
    insert_0002_rows(db)
    return db


def test_migrating_a_0002_database_keeps_every_row_and_its_raw_json(db_0002: Database, tmp_path: Path) -> None:
    before = db_0002.execute(CONTRACT_SNAPSHOT).fetchall()
    assert len(before) == 3
    db_0002.close()

    db = open_db(tmp_path / "retsctl.db")
    assert db.execute(CONTRACT_SNAPSHOT).fetchall() == before
    assert db.execute("PRAGMA page_size").fetchone()[0] == 4096  # an existing file keeps its pages
    assert [m.name for m in MIGRATIONS.applied(db)][-1] == "0004_raw_values_by_column_list"
    hashes = db.execute("SELECT p.record_hash = r.record_hash FROM property_rows p JOIN raw_records r "
                        "ON r.source = p.source AND r.resource = p.resource AND r.key = p.source_key").fetchall()
    assert hashes == [(1,)] * 3
    assert db.execute("SELECT external_id, team_id, resource FROM property_rows ORDER BY 2, 1").fetchall() == [
        ("LK1", "team-1", "Property"), ("LK2", "team-1", "Property"), ("LK1", "team-2", "Property")]
    k1 = orjson.loads(db.execute("SELECT raw FROM properties WHERE team_id = 'team-2'").fetchone()[0])
    assert k1["Remarks"] == "Café & <views> — 日本語 \U0001f3e1"


def test_properties_is_a_view_with_exactly_the_contract_columns(tmp_path: Path) -> None:
    db = open_db(tmp_path / "retsctl.db")
    view = db["properties"]
    assert isinstance(view, View)
    assert tuple(view.columns_dict) == ALL_COLUMNS
    rows = db["property_rows"]
    assert "raw" not in rows.columns_dict and "resource" in rows.columns_dict
    assert rows.pks == ["team_id", "source", "external_id"]  # type: ignore[union-attr]
    assert {tuple(index.columns) for index in rows.indexes} >= {  # type: ignore[union-attr]
        ("team_id", "source", "source_key"), ("team_id", "status")}


def test_a_new_database_has_large_pages_and_the_default_cache_in_kb(tmp_path: Path) -> None:
    db = open_db(tmp_path / "retsctl.db")
    assert db.execute("PRAGMA page_size").fetchone()[0] == PAGE_SIZE == 32768
    assert db.execute("PRAGMA cache_size").fetchone()[0] == -2000
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()
    assert open_db(tmp_path / "retsctl.db").execute("PRAGMA page_size").fetchone()[0] == 32768


def test_sqlite_utils_reads_the_view_after_migration(db_0002: Database, tmp_path: Path) -> None:
    db_0002.close()
    db = open_db(tmp_path / "retsctl.db")
    view = db["properties"]
    assert view.count == 3
    live = list(view.rows_where("deleted_at IS NULL", order_by="team_id"))
    assert [(r["team_id"], r["external_id"]) for r in live] == [("team-1", "LK1"), ("team-2", "LK1")]
    assert {orjson.loads(r["raw"])["ListingKey"] for r in view.rows} == {"K1", "K2"}
    assert [r["list_price"] for r in view.rows_where("source_key = ?", ["K2"])] == [1]


def mapped(key: str, team: str, price: str) -> PropertyRow:
    return {"team_id": team, "source": SOURCE, "external_id": f"L{key}", "address": "2 Elm St",
            "list_price": Decimal(price), "bedrooms": 2, "bathrooms": Decimal("1.5"), "photo_urls": ["http://p/1"],
            "source_key": key, "modified_at": "2026-02-02T00:00:00Z", "status": "active"}


def staged(record: dict[str, str], row: PropertyRow | None = None) -> StagedRecord:
    """A record as a sync stages it: columns, escaped values, the mapped row (None: rejected)."""
    return StagedRecord(record["ListingKey"], row and row["modified_at"], tuple(record),
                        encode_values(record.values()), row, record["ModificationTimestamp"])


def test_written_rows_read_back_through_the_view_and_outbox(tmp_path: Path) -> None:
    db = open_db(tmp_path / "retsctl.db")
    store = RecordStore(db, Feed(SOURCE, "Property", "RES", "team-1"))
    raw = raw_record("K9", Remarks="Ünïcode \x7f ok")
    records = [staged(raw, mapped("K9", "team-1", "99.50")), staged(raw_record("K8"))]  # K8 rejected: raw only
    changed, outcome = store.classify(records, run_id=7)
    with db.conn:
        store.write(changed, run_id=7, now=NOW)
    assert outcome.inserted == 2
    assert db.execute("SELECT raw, list_price, bathrooms, photo_urls FROM properties").fetchall() == [
        (orjson.dumps(raw).decode(), 99.5, 1.5, '["http://p/1"]')]
    assert db.execute("SELECT record, source_modified FROM raw_records WHERE key = 'K9'").fetchone() == (
        encode_values(raw.values()).decode(), raw["ModificationTimestamp"])
    versions = store.known_versions(["K9", "K8"])
    assert versions["K9"].row_hash == records[0].raw_hash and versions["K8"].row_hash is None
    [batch] = list(Outbox(db).batches(10))
    assert batch[0]["raw"] == raw and batch[0]["list_price"] == Decimal("99.5")
    assert list(batch[0]) == list(ALL_COLUMNS)

    with db.conn:
        assert store.mark_deleted(["K9"], now="2026-03-02T00:00:00Z") == 1
    assert db.execute("SELECT deleted_at, raw IS NOT NULL FROM properties").fetchall() == [
        ("2026-03-02T00:00:00Z", 1)]


_AWKWARD = ['Say "hi" \\ bye\n\t\r\x01\x1f\x7f', "é 日本語 \U0001f3e1 \u2028\u2029 </DATA> & ; /", "", " "]


@pytest.mark.parametrize("text", _AWKWARD)
def test_the_view_rebuilds_each_record_byte_for_byte(tmp_path: Path, text: str) -> None:
    """SQLite puts names and values back together exactly as orjson writes the record."""
    db = open_db(tmp_path / "retsctl.db")
    store = RecordStore(db, Feed(SOURCE, "Property", "RES", "team-1"))
    raw = raw_record("K1", **{"Remarks": text, 'Odd "name" \\': text, "Ünï": "x"})
    changed, _ = store.classify([staged(raw, mapped("K1", "team-1", "1"))], run_id=1)
    with db.conn:
        store.write(changed, run_id=1, now=NOW)
    assert db.execute("SELECT raw FROM properties").fetchone()[0].encode() == orjson.dumps(raw)
    assert db.execute("SELECT count(*) FROM raw_columns").fetchone()[0] == 1


def test_a_row_that_lagged_behind_its_raw_record_is_rewritten_after_migrating(db_0002: Database,
                                                                               tmp_path: Path) -> None:
    db_0002.execute("UPDATE properties SET raw = '{\"older\":\"version\"}' WHERE team_id = 'team-2'")
    db_0002.conn.commit()
    db_0002.close()
    db = open_db(tmp_path / "retsctl.db")
    hashes = dict(db.execute("SELECT team_id || '/' || external_id, record_hash FROM property_rows").fetchall())
    assert hashes["team-2/LK1"] is None  # no known raw version: the next sync writes it again
    assert hashes["team-1/LK1"] is not None and hashes["team-1/LK2"] is not None


def test_0004_keeps_old_records_as_objects_with_the_hash_a_new_fetch_gets(tmp_path: Path) -> None:
    """A 0003 cache (JSON objects, BLAKE2b hashes): after 0004 the same records fetched again are
    unchanged, the view still reads them, and a row that lagged behind its raw record has no hash
    (the next sync rewrites it)."""
    db = Database(tmp_path / "retsctl.db")
    db.enable_wal()
    MIGRATIONS.apply(db, stop_before="0004_raw_values_by_column_list")
    feed = Feed(SOURCE, "Property", "RES", "team-1")
    current, lagging = raw_record("K1", ListPrice="1"), raw_record("K2", ListPrice="2")
    for key, record, row_hash in (("K1", current, "old-K1"), ("K2", lagging, "older-K2")):
        db.execute("INSERT INTO raw_records (source, resource, class_name, key, record, record_hash, run_id) "
                   "VALUES (?, 'Property', 'RES', ?, CAST(? AS TEXT), ?, 1)",
                   [SOURCE, key, orjson.dumps(record), f"old-{key}"])
        db.execute("INSERT INTO property_rows (team_id, source, resource, external_id, source_key, record_hash) "
                   "VALUES ('team-1', ?, 'Property', ?, ?, ?)", [SOURCE, f"L{key}", key, row_hash])
    db.conn.commit()
    db.close()

    db = open_db(tmp_path / "retsctl.db")
    fetched_again = [staged(current, mapped("K1", "team-1", "1")), staged(lagging, mapped("K2", "team-1", "2"))]
    changed, outcome = RecordStore(db, feed).classify(fetched_again, run_id=2)
    assert (outcome.unchanged, outcome.updated, [s.key for s in changed]) == (1, 1, ["K2"])
    assert db.execute("SELECT source_key, record_hash FROM property_rows ORDER BY 1").fetchall() == [
        ("K1", fetched_again[0].raw_hash), ("K2", None)]
    assert db.execute("SELECT raw FROM properties ORDER BY source_key").fetchall() == [
        (orjson.dumps(current).decode(),), (orjson.dumps(lagging).decode(),)]
