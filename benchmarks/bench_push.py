#!/usr/bin/env python3
"""Benchmark: the ``postgres`` sink against a plain ``COPY`` of the same rows, in the same run.

Pushes N rows (default 100,000) into an emptied, migrated ``properties`` table through
``PostgresSink`` (enrichment trigger on, so every row also queues a job), and times a plain ``COPY``
of the same rows into an empty table with the same columns, constraints and indexes but no trigger
(the baseline), and for reference into a bare heap (no indexes or constraints) and into the empty
``properties`` table itself (trigger on). Runs are interleaved and the best of each is kept. Then
re-pushes the unchanged rows and checks that nothing was written and no job was queued.

Pass/fail: the sink reaches at least 40% of COPY's rows/s (same-definition table), and the
re-push writes 0 rows and adds 0 jobs; exit 1 otherwise.

Without ``--dsn`` a throwaway PostgreSQL 15 is started with its default (durable) settings
(tests/pg.py). Usage: python benchmarks/bench_push.py [--rows 100000] [--repeat 3] [--dsn DSN]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import psycopg
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from pg import PostgresServer, postgres_available, property_rows

from retsctl.properties import ALL_COLUMNS
from retsctl.sinks.migrations import apply_migrations
from retsctl.sinks.postgres import PostgresSink

REQUIRED_RATIO = 0.40
COLUMNS = sql.SQL(", ").join(map(sql.Identifier, ALL_COLUMNS))


@contextmanager
def database(dsn: str | None) -> Iterator[str]:
    """The DSN to benchmark on: the given one, or a database on a throwaway local server."""
    if dsn:
        yield dsn
        return
    reason = postgres_available()
    if reason:
        sys.exit(f"cannot start PostgreSQL: {reason}")
    server = PostgresServer.create(settings={})  # PostgreSQL's defaults: fsync and synchronous_commit on
    try:
        server.start()
        yield server.create_database()
    finally:
        server.destroy()


def plain_copy(dsn: str, rows: Sequence[dict[str, Any]], table: str, prepare: str) -> float:
    """Seconds to COPY the rows into ``table`` (in one transaction) after running ``prepare``."""
    with psycopg.connect(dsn) as conn:
        conn.execute(prepare)
        conn.commit()
        started = time.perf_counter()
        with conn.cursor() as cursor, cursor.copy(sql.SQL("COPY {} ({}) FROM STDIN").format(
                sql.SQL(table), COLUMNS)) as copy:
            for row in rows:
                copy.write_row([orjson.dumps(row["raw"]).decode() if c == "raw" else row[c] for c in ALL_COLUMNS])
        conn.commit()
        return time.perf_counter() - started


def sink_push(dsn: str, rows: Sequence[dict[str, Any]], prepare: str | None = None) -> tuple[float, int, int]:
    """Seconds, rows confirmed and rows written by one push through a fresh PostgresSink."""
    if prepare:
        with psycopg.connect(dsn) as conn:
            conn.execute(prepare)
    sink = PostgresSink(dsn)
    try:
        started = time.perf_counter()
        result = sink.push(rows)  # type: ignore[arg-type]
        return time.perf_counter() - started, len(result.confirmed), result.written
    finally:
        sink.close()


def scalar(dsn: str, statement: str, params: Sequence[Any] | None = None) -> Any:
    with psycopg.connect(dsn) as conn:
        return conn.execute(statement, params).fetchone()[0]  # type: ignore[index]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3, help="best of this many runs of each load")
    parser.add_argument("--dsn", help="benchmark on this database (its properties table is emptied!)")
    args = parser.parse_args()
    rows = property_rows(args.rows)

    with database(args.dsn) as dsn:
        apply_migrations(dsn)
        empty_sink_tables = "TRUNCATE enrichment_jobs, properties RESTART IDENTITY"
        loads: dict[str, Callable[[], float]] = {
            # Same columns, constraints and indexes as properties, no trigger: the pass/fail baseline.
            "copy_same": lambda: plain_copy(dsn, rows, "bench_copy", "DROP TABLE IF EXISTS bench_copy; "
                                            "CREATE TABLE bench_copy (LIKE public.properties INCLUDING ALL)"),
            "copy_bare": lambda: plain_copy(dsn, rows, "bench_copy", "DROP TABLE IF EXISTS bench_copy; CREATE TABLE "
                                            "bench_copy (LIKE public.properties INCLUDING DEFAULTS INCLUDING IDENTITY)"),
            "copy_properties": lambda: plain_copy(dsn, rows, "public.properties", empty_sink_tables),
            "push": lambda: sink_push(dsn, rows, empty_sink_tables)[0],
        }
        times: dict[str, list[float]] = {name: [] for name in loads}
        for _ in range(args.repeat):  # interleaved, so a noisy moment hits every load alike
            for name, load in loads.items():
                times[name].append(load())
        copy_same, copy_bare, copy_properties, push = (min(times[name]) for name in loads)
        landed = scalar(dsn, "SELECT count(*) FROM properties")
        jobs = scalar(dsn, "SELECT count(*) FROM enrichment_jobs")

        before_xid = scalar(dsn, "SELECT pg_current_xact_id()::text")
        repush, repush_confirmed, repush_written = sink_push(dsn, rows)
        new_versions = scalar(dsn, "SELECT count(*) FROM properties WHERE age(xmin) <= age(%s::text::xid)",
                              [before_xid])
        jobs_after = scalar(dsn, "SELECT count(*) FROM enrichment_jobs")
        with psycopg.connect(dsn) as conn:
            conn.execute("DROP TABLE bench_copy")

    ratio = copy_same / push
    report = {
        "rows": args.rows,
        "copy_same_definition_s": round(copy_same, 3), "copy_same_definition_rows_per_s": round(args.rows / copy_same),
        "copy_bare_heap_s": round(copy_bare, 3), "copy_bare_heap_rows_per_s": round(args.rows / copy_bare),
        "copy_into_properties_with_trigger_s": round(copy_properties, 3),
        "sink_push_s": round(push, 3), "sink_push_rows_per_s": round(args.rows / push),
        "sink_vs_copy": round(ratio, 3), "sink_vs_bare_copy": round(copy_bare / push, 3),
        "rows_landed": landed, "jobs_queued": jobs,
        "repush_s": round(repush, 3), "repush_confirmed": repush_confirmed, "repush_written": repush_written,
        "repush_new_row_versions": new_versions, "repush_jobs_added": jobs_after - jobs,
    }
    print(json.dumps(report, indent=2))
    ok = (ratio >= REQUIRED_RATIO and landed == jobs == args.rows and repush_written == 0 and new_versions == 0
          and jobs_after == jobs and repush_confirmed == args.rows)
    print(f"{'PASS' if ok else 'FAIL'}: sink at {ratio:.0%} of COPY's rate (needs {REQUIRED_RATIO:.0%}); "
          f"re-push wrote {repush_written} rows, {new_versions} row versions, {jobs_after - jobs} jobs")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
