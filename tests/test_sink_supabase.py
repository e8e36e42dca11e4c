"""The supabase sink, tested twice because the hosted Supabase API (PostgREST) cannot run here.

1. Contract tests: an ``httpx.MockTransport`` stands in for the hosted API, pins the exact requests
   supabase-py sends (path, ``on_conflict``, ``columns``, ``Prefer``, key headers, batch sizes) and
   answers with PostgREST-shaped errors to drive retries, halving and bisect-quarantine.
2. Integration tests: ``postgrest_shim`` (a test-only PostgREST-compatible upsert endpoint over
   ``httpx.WSGITransport``) carries supabase-py's requests into a real PostgreSQL, so constraints
   and triggers are real.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import parse_qs

import httpx
import pytest
from pg import (  # noqa: F401  (pytest finds the imported fixtures)
    migrated_dsn_fixture,
    postgres_dsn_fixture,
    postgres_server_fixture,
    property_rows,
    query,
    scalar,
)
from postgrest_shim import make_app

from retsctl.properties import ALL_COLUMNS
from retsctl.sinks import RetryPolicy, SinkAuthError, SinkError, SinkUsageError, open_sink
from retsctl.sinks.supabase import SupabaseSink

URL = "https://abcd.supabase.co"
KEY = "sb_secret_test_0123456789"


@dataclass
class FakeTime:
    """A clock that moves only when the sink sleeps, so budgets are tested without waiting."""

    now: float = 0.0
    sleeps: list[float] = field(default_factory=list)

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now

    def policy(self, timeout: float = 45.0) -> RetryPolicy:
        return RetryPolicy(timeout=timeout, sleep=self.sleep, clock=self.clock)


class FakeApi:
    """Records every request; ``answer(request, rows)`` decides the reply (201 by default)."""

    def __init__(self, answer: Callable[[httpx.Request, list[dict]], httpx.Response] | None = None) -> None:
        self.requests: list[httpx.Request] = []
        self.bodies: list[list[dict]] = []
        self._answer = answer or created

    def __call__(self, request: httpx.Request) -> httpx.Response:
        rows = json.loads(request.content)
        self.requests.append(request)
        self.bodies.append(rows)
        return self._answer(request, rows)

    def sink(self, time: FakeTime | None = None, **options) -> SupabaseSink:
        retry = (time or FakeTime()).policy()
        return SupabaseSink(URL, KEY, retry=retry, transport=httpx.MockTransport(self), **options)

    @property
    def sizes(self) -> list[int]:
        return [len(rows) for rows in self.bodies]


def created(request: httpx.Request, rows: list[dict]) -> httpx.Response:
    return httpx.Response(201, headers={"Content-Range": f"*/{len(rows)}"})


def postgrest_error(status: int, code: str, message: str, **headers: str) -> httpx.Response:
    body = {"code": code, "message": message, "details": None, "hint": None}
    return httpx.Response(status, json=body, headers=headers)


def fail_first(n: int, response: Callable[[], httpx.Response]) -> Callable[[httpx.Request, list[dict]], httpx.Response]:
    calls = iter(range(10**6))
    return lambda request, rows: response() if next(calls) < n else created(request, rows)


# ---- 1. contract tests (MockTransport stands in for the hosted API) ----


def test_upsert_request_is_exactly_what_postgrest_expects() -> None:
    api = FakeApi()
    result = api.sink().push(property_rows(1200))

    assert api.sizes == [500, 500, 200]
    assert result.written == 1200
    assert len(result.confirmed) == 1200
    for request in api.requests:
        assert request.method == "POST"
        assert request.url.scheme == "https"
        assert request.url.host == "abcd.supabase.co"
        assert request.url.path == "/rest/v1/properties"
        params = parse_qs(request.url.query.decode())
        assert params["on_conflict"] == ["team_id,source,external_id"]
        assert sorted(name.strip('"') for name in params["columns"][0].split(",")) == sorted(ALL_COLUMNS)
        assert sorted(request.headers["Prefer"].split(",")) == ["count=exact", "resolution=merge-duplicates", "return=minimal"]
        assert request.headers["apikey"] == KEY
        assert request.headers["Authorization"] == f"Bearer {KEY}"
        assert request.headers["Content-Profile"] == "public"
        assert request.headers["Content-Type"] == "application/json"
    first = api.bodies[0][0]
    assert first["external_id"] == "L000000"
    assert first["list_price"] == "250000.50"  # Decimal sent as exact text
    assert first["photo_urls"] == ["https://photos.example.com/0/1.jpg", "https://photos.example.com/0/2.jpg"]
    assert first["raw"]["Remarks"] == "Café & <b>"


def test_batches_stay_under_one_megabyte() -> None:
    api = FakeApi()
    api.sink().push(property_rows(10, description="x" * 300_000))

    assert api.sizes == [3, 3, 3, 1]
    assert all(len(request.content) <= 1_000_000 for request in api.requests)


def test_every_batch_has_one_key_set() -> None:
    api = FakeApi()
    without_deleted_at = [{k: v for k, v in row.items() if k != "deleted_at"} for row in property_rows(3, start=10)]
    api.sink().push([*property_rows(2), *without_deleted_at, *property_rows(2, start=20)])

    assert api.sizes == [4, 3]
    for rows in api.bodies:
        assert len({tuple(sorted(row)) for row in rows}) == 1
    assert "deleted_at" not in api.bodies[1][0]
    assert '"deleted_at"' not in api.requests[1].url.params["columns"]


@pytest.mark.parametrize(
    ("failure", "expected_sizes"),
    [
        (lambda: postgrest_error(503, "PGRST001", "Database client error. Retrying the connection."), [4, 4]),
        (lambda: httpx.Response(502, text="<html>Bad Gateway</html>"), [4, 2, 2]),
        (lambda: postgrest_error(500, "57014", "canceling statement due to statement timeout"), [4, 2, 2]),
    ],
    ids=["503-retried-whole", "502-halved", "57014-halved"],
)
def test_transient_failures_are_retried_and_halved_when_size_may_be_the_cause(failure, expected_sizes) -> None:
    time = FakeTime()
    api = FakeApi(fail_first(1, failure))
    result = api.sink(time).push(property_rows(4))

    assert api.sizes == expected_sizes
    assert len(time.sleeps) == 1
    assert sorted(result.confirmed) == sorted(("team-1", "demo", f"L{n:06d}") for n in range(4))


def test_payload_too_large_halves_until_a_single_row_is_quarantined() -> None:
    def answer(request: httpx.Request, rows: list[dict]) -> httpx.Response:
        if len(request.content) > 200_000:
            return httpx.Response(413, json={"message": "Payload too large"})
        return created(request, rows)

    rows = [*property_rows(3, description="d" * 90_000), *property_rows(1, start=3, description="D" * 300_000)]
    api = FakeApi(answer)
    result = api.sink().push(rows)

    assert api.sizes == [4, 2, 2, 1, 1]
    assert [key for key, _ in result.quarantined] == [("team-1", "demo", "L000003")]
    assert result.quarantined[0][1].startswith("HTTP 413")
    assert len(result.confirmed) == 3


def test_429_waits_as_long_as_the_server_asks() -> None:
    time = FakeTime()
    api = FakeApi(fail_first(2, lambda: httpx.Response(429, json={"message": "Too many requests"},
                                                      headers={"Retry-After": "3"})))
    result = api.sink(time).push(property_rows(6))

    assert api.sizes == [6, 6, 6]
    assert len(time.sleeps) == 2
    assert all(seconds >= 3 for seconds in time.sleeps)
    assert len(result.confirmed) == 6


def test_timeouts_are_retried_with_half_batches() -> None:
    time = FakeTime()
    calls = []

    def answer(request: httpx.Request, rows: list[dict]) -> httpx.Response:
        calls.append(len(rows))
        if len(calls) == 1:
            raise httpx.ReadTimeout("timed out", request=request)
        return created(request, rows)

    api = FakeApi(answer)
    result = api.sink(time).push(property_rows(8))

    assert calls == [8, 4, 4]
    assert len(result.confirmed) == 8


def test_data_errors_bisect_so_only_bad_rows_are_quarantined() -> None:
    rows = property_rows(16)
    rows[5]["status"] = "Active"
    rows[12]["status"] = "Sold"

    def answer(request: httpx.Request, body: list[dict]) -> httpx.Response:
        if any(row["status"] not in ("active",) for row in body):
            return postgrest_error(400, "23514", 'new row for relation "properties" violates check constraint '
                                                 '"properties_status_check"')
        return created(request, body)

    time = FakeTime()
    api = FakeApi(answer)
    result = api.sink(time).push(rows)

    assert sorted(key for key, _ in result.quarantined) == [("team-1", "demo", "L000005"), ("team-1", "demo", "L000012")]
    assert all("HTTP 400 23514" in reason and "properties_status_check" in reason for _, reason in result.quarantined)
    assert len(result.confirmed) == 14
    assert len(set(result.confirmed)) == 14
    assert result.written == 14
    assert time.sleeps == []  # bad data is not retried
    # Halves down to each bad row alone: 16 → 8 → 4 ok, 4 → 2 → 1 ok, 1 bad; 2 ok; the same for the second half.
    assert api.sizes == [16, 8, 4, 4, 2, 1, 1, 2, 8, 4, 4, 2, 1, 1, 2]


def test_a_conflict_409_is_treated_as_bad_data() -> None:
    def answer(request: httpx.Request, body: list[dict]) -> httpx.Response:
        if any(row["external_id"] == "L000002" for row in body):
            return postgrest_error(409, "23503", "insert or update on table violates foreign key constraint")
        return created(request, body)

    result = FakeApi(answer).sink().push(property_rows(4))
    assert [key for key, _ in result.quarantined] == [("team-1", "demo", "L000002")]
    assert len(result.confirmed) == 3


def test_retry_budget_runs_out_with_a_sink_error_keeping_what_was_confirmed() -> None:
    time = FakeTime()
    calls = iter(range(10**6))

    def answer(request: httpx.Request, rows: list[dict]) -> httpx.Response:
        if next(calls) == 0:
            return created(request, rows)
        return postgrest_error(503, "PGRST002", "Could not query the database for the schema cache. Retrying.")

    api = FakeApi(answer)
    sink = SupabaseSink(URL, KEY, retry=time.policy(timeout=20), batch_rows=3, transport=httpx.MockTransport(api))
    with pytest.raises(SinkError) as raised:
        sink.push(property_rows(6))

    error = raised.value
    assert error.kind == "sink"
    assert "gave up after 20 s" in error.message
    assert "PGRST002" in error.message
    assert error.result.confirmed == [("team-1", "demo", f"L{n:06d}") for n in range(3)]
    assert 0 < sum(time.sleeps) < 20
    assert KEY not in error.message and KEY not in repr(sink)


def test_a_refused_key_fails_at_once_as_an_auth_error() -> None:
    api = FakeApi(lambda request, rows: postgrest_error(401, "PGRST301", "JWSError JWSInvalidSignature"))
    with pytest.raises(SinkAuthError) as raised:
        api.sink().push(property_rows(3))
    assert len(api.requests) == 1
    assert raised.value.kind == "auth"


def test_a_missing_column_fails_at_once_with_the_migrate_hint() -> None:
    api = FakeApi(lambda request, rows: postgrest_error(
        400, "PGRST204", "Could not find the 'source_key' column of 'properties' in the schema cache"))
    with pytest.raises(SinkError) as raised:
        api.sink().push(property_rows(3))
    assert len(api.requests) == 1
    assert "retsctl db migrate" in raised.value.hint


def test_a_url_that_is_not_http_is_a_usage_error() -> None:
    with pytest.raises(SinkUsageError) as raised:
        SupabaseSink("abcd.supabase.co", KEY)
    assert raised.value.kind == "input"


@pytest.mark.parametrize(("name", "options"), [("supabase", {"url": URL}), ("postgres", {}), ("mysql", {})])
def test_open_sink_refuses_what_it_cannot_open(name: str, options: dict) -> None:
    with pytest.raises(SinkUsageError):
        open_sink(name, **options)


def test_open_sink_supabase_opens_a_supabase_sink() -> None:
    sink = open_sink("supabase", url=URL, key=KEY, timeout=5)
    assert isinstance(sink, SupabaseSink)
    assert sink.name == "supabase"
    assert KEY not in repr(sink)
    sink.close()


# ---- 2. integration through the PostgREST-compatible shim into real PostgreSQL ----


@pytest.fixture
def shim_sink(migrated_dsn: str) -> Iterator[SupabaseSink]:
    """supabase-py → test-only PostgREST shim → the real database."""
    sink = SupabaseSink(URL, KEY, batch_rows=200, transport=httpx.WSGITransport(app=make_app(migrated_dsn)))
    yield sink
    sink.close()


def test_shim_push_lands_every_row_and_queues_one_job_each(shim_sink: SupabaseSink, migrated_dsn: str) -> None:
    result = shim_sink.push(property_rows(450))

    assert len(result.confirmed) == 450
    assert result.written == 450
    assert scalar(migrated_dsn, "SELECT count(*) FROM properties") == 450
    assert query(migrated_dsn, "SELECT list_price, photo_urls[2], raw->>'Remarks' FROM properties WHERE external_id = 'L000009'") == [
        (Decimal("250009.50"), "https://photos.example.com/9/2.jpg", "Café & <b>")]
    assert query(migrated_dsn, "SELECT reason, count(*) FROM enrichment_jobs GROUP BY 1") == [("insert", 450)]


def test_shim_repush_unchanged_writes_nothing_and_changes_queue_one_job_each(
    shim_sink: SupabaseSink, migrated_dsn: str
) -> None:
    rows = property_rows(300)
    shim_sink.push(rows)
    before = query(migrated_dsn, "SELECT external_id, xmin::text FROM properties ORDER BY 1")

    again = shim_sink.push(rows)
    assert again.written == 0
    assert query(migrated_dsn, "SELECT external_id, xmin::text FROM properties ORDER BY 1") == before
    assert scalar(migrated_dsn, "SELECT count(*) FROM enrichment_jobs") == 300

    rows[10]["list_price"] = Decimal("1000.00")
    rows[250]["description"] = "Renovated."
    changed = shim_sink.push(rows)
    assert changed.written == 2
    assert query(migrated_dsn, "SELECT external_id, changed_columns FROM enrichment_jobs WHERE reason = 'update' ORDER BY id") == [
        ("L000010", ["list_price"]), ("L000250", ["description"])]


def test_shim_real_constraint_violation_quarantines_only_the_bad_row(shim_sink: SupabaseSink, migrated_dsn: str) -> None:
    rows = property_rows(40)
    rows[33]["bedrooms"] = -1

    result = shim_sink.push(rows)

    assert [key for key, _ in result.quarantined] == [("team-1", "demo", "L000033")]
    assert "23514" in result.quarantined[0][1] and "properties_bedrooms_check" in result.quarantined[0][1]
    assert scalar(migrated_dsn, "SELECT count(*) FROM properties") == 39


def test_shim_push_without_a_key_leaves_that_column_alone(shim_sink: SupabaseSink, migrated_dsn: str) -> None:
    shim_sink.push(property_rows(2, deleted_at="2026-11-05T00:00:00Z"))
    shim_sink.push([{k: v for k, v in row.items() if k != "deleted_at"} for row in property_rows(2)])

    assert scalar(migrated_dsn, "SELECT count(*) FROM properties WHERE deleted_at IS NOT NULL") == 2
