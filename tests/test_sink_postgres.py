"""The postgres sink against a real PostgreSQL 15: landing, no-op re-pushes, enrichment jobs,
quarantine, and a server crash in the middle of a push."""

from __future__ import annotations

import logging
import threading
import time
from decimal import Decimal

import pytest
from pg import (  # noqa: F401  (pytest finds the imported fixtures)
    PostgresServer,
    migrated_dsn_fixture,
    postgres_dsn_fixture,
    postgres_server_fixture,
    property_rows,
    query,
    scalar,
)

from retsctl.sinks import RetryPolicy, SinkError, open_sink
from retsctl.sinks.postgres import PostgresSink

KEYS_AND_XMIN = "SELECT external_id, xmin::text FROM properties ORDER BY external_id"


def push(dsn: str, rows: list, **options) -> object:
    sink = PostgresSink(dsn, **options)
    try:
        return sink.push(rows)
    finally:
        sink.close()


def test_push_lands_every_row_with_its_values_and_one_insert_job_each(migrated_dsn: str) -> None:
    rows = property_rows(1200)
    result = push(migrated_dsn, rows, batch_rows=500)

    assert len(result.confirmed) == 1200
    assert result.confirmed[0] == ("team-1", "demo", "L000000")
    assert result.written == 1200
    assert result.quarantined == []
    assert scalar(migrated_dsn, "SELECT count(*) FROM properties") == 1200
    stored = query(migrated_dsn, "SELECT list_price, bathrooms, photo_urls, raw->>'Remarks', modified_at::text, "
                                 "deleted_at FROM properties WHERE external_id = 'L000007'")
    assert stored == [(Decimal("250007.50"), Decimal("2.5"),
                       ["https://photos.example.com/7/1.jpg", "https://photos.example.com/7/2.jpg"],
                       "Café & <b>", "2026-11-01 12:00:00+00", None)]
    jobs = query(migrated_dsn, "SELECT reason, count(*), count(DISTINCT property_id) FROM enrichment_jobs GROUP BY 1")
    assert jobs == [("insert", 1200, 1200)]


def test_repush_of_unchanged_rows_writes_nothing_and_queues_nothing(migrated_dsn: str) -> None:
    rows = property_rows(700)
    push(migrated_dsn, rows, batch_rows=300)
    before = query(migrated_dsn, KEYS_AND_XMIN)

    again = push(migrated_dsn, rows, batch_rows=300)

    assert len(again.confirmed) == 700
    assert again.written == 0
    assert query(migrated_dsn, KEYS_AND_XMIN) == before  # no row version was written
    assert scalar(migrated_dsn, "SELECT count(*) FROM enrichment_jobs") == 700


def test_each_real_change_queues_exactly_one_job_and_bookkeeping_changes_none(migrated_dsn: str) -> None:
    rows = property_rows(50)
    push(migrated_dsn, rows)
    changed = [dict(row) for row in rows]
    changed[3]["list_price"] = Decimal("199000.00")
    changed[4]["status"] = "pending"
    changed[4]["photo_urls"] = ["https://photos.example.com/4/new.jpg"]
    changed[5]["synced_at"] = "2026-11-03T08:00:00Z"  # not a mapped column: written, no job
    changed[6]["raw"] = {**rows[6]["raw"], "Extra": "x"}

    result = push(migrated_dsn, changed)

    assert result.written == 4
    jobs = query(migrated_dsn, "SELECT external_id, changed_columns FROM enrichment_jobs WHERE reason = 'update' ORDER BY id")
    assert jobs == [("L000003", ["list_price"]), ("L000004", ["status", "photo_urls"])]
    # The same change pushed again is a no-op; a further change of a row adds its own job.
    assert push(migrated_dsn, changed).written == 0
    changed[3]["list_price"] = Decimal("189000.00")
    push(migrated_dsn, changed)
    assert query(migrated_dsn, "SELECT reason, state FROM enrichment_jobs j JOIN properties p ON p.id = j.property_id "
                               "WHERE p.external_id = 'L000003' ORDER BY j.id") == [
        ("insert", "pending"), ("update", "pending"), ("update", "pending")]


def test_missing_key_in_a_later_push_leaves_that_column_alone(migrated_dsn: str) -> None:
    rows = property_rows(3, deleted_at="2026-11-05T00:00:00Z")
    push(migrated_dsn, rows)
    partial = [{k: v for k, v in row.items() if k != "deleted_at"} for row in rows]
    partial[0]["list_price"] = Decimal("1.00")

    result = push(migrated_dsn, [*partial, *property_rows(2, start=10)])

    assert result.written == 3
    assert query(migrated_dsn, "SELECT external_id, deleted_at IS NOT NULL FROM properties ORDER BY 1") == [
        ("L000000", True), ("L000001", True), ("L000002", True), ("L000010", False), ("L000011", False)]


def test_bad_rows_are_quarantined_alone_and_the_rest_land(migrated_dsn: str) -> None:
    rows = property_rows(100)
    rows[17]["status"] = "Active"  # not a standard status
    rows[60]["list_price"] = Decimal("-5")
    rows[81]["modified_at"] = "2026-13-45T00:00:00Z"  # refused by COPY itself, before any constraint
    rows.append({**property_rows(1, start=500)[0], "external_id": ""})

    result = push(migrated_dsn, rows, batch_rows=40)

    assert len(result.confirmed) == 97
    quarantined = dict(result.quarantined)
    assert set(quarantined) == {("team-1", "demo", key) for key in ("L000017", "L000060", "L000081", "")}
    assert "properties_status_check" in quarantined[("team-1", "demo", "L000017")]
    assert "properties_list_price_check" in quarantined[("team-1", "demo", "L000060")]
    assert quarantined[("team-1", "demo", "L000081")].startswith("22008: ")
    assert quarantined[("team-1", "demo", "")] == "missing external_id"
    assert scalar(migrated_dsn, "SELECT count(*) FROM properties") == 97


def test_duplicate_keys_in_one_push_keep_the_last_row(migrated_dsn: str) -> None:
    first, second = property_rows(1), property_rows(1, list_price=Decimal("7.00"))
    result = push(migrated_dsn, [*first, *second])
    assert result.confirmed == [("team-1", "demo", "L000000")]
    assert scalar(migrated_dsn, "SELECT list_price FROM properties") == Decimal("7.00")


def test_a_database_without_the_tables_fails_at_once_with_the_migrate_hint(postgres_dsn: str) -> None:
    sink = open_sink("postgres", dsn=postgres_dsn, timeout=30)
    started = time.monotonic()
    with pytest.raises(SinkError) as raised:
        sink.push(property_rows(2))
    assert time.monotonic() - started < 5
    assert "retsctl db migrate" in raised.value.hint
    assert raised.value.kind == "sink"


def test_an_unknown_database_fails_at_once(postgres_server: PostgresServer) -> None:
    sink = PostgresSink(postgres_server.dsn("no_such_db"), retry=RetryPolicy(timeout=30))
    with pytest.raises(SinkError, match="does not exist"):
        sink.push(property_rows(1))


def test_server_crash_mid_push_is_retried_and_every_row_lands_once(
    postgres_server: PostgresServer, migrated_dsn: str, caplog: pytest.LogCaptureFixture
) -> None:
    rows = property_rows(30000)
    crashed = threading.Event()

    def crash_when_loading() -> None:
        while scalar(migrated_dsn, "SELECT count(*) FROM properties") < 3000:
            time.sleep(0.01)
        postgres_server.stop("immediate")
        crashed.set()
        time.sleep(1.0)
        postgres_server.start()

    crasher = threading.Thread(target=crash_when_loading)
    crasher.start()
    with caplog.at_level(logging.WARNING, logger="retsctl.sinks"):
        result = push(migrated_dsn, rows, batch_rows=500, retry=RetryPolicy(timeout=30))
    crasher.join()

    assert crashed.is_set()
    assert any("retrying" in message for message in caplog.messages)
    assert len(result.confirmed) == 30000
    assert query(migrated_dsn, "SELECT count(*), count(DISTINCT (team_id, source, external_id)) FROM properties") == [
        (30000, 30000)]
    assert query(migrated_dsn, "SELECT count(*), count(DISTINCT property_id) FROM enrichment_jobs") == [(30000, 30000)]
