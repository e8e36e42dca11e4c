"""`retsctl query` against the real simulator: every format, --count, paging, DMQL checked locally."""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from collections.abc import Callable, Iterator

import pytest

from retsctl.cli import output
from retsctl.cli.output import FLUSH_SECONDS, Format, Output
from retsctl.rets.compact import encode_record

ALL_RES = "(ListPrice=0+)"


@pytest.fixture(scope="module")
def res_keys(simulator) -> list[str]:
    return simulator.dataset.keys("RES")


def jsonl_records(stdout: str) -> list[dict[str, str]]:
    return [json.loads(line) for line in stdout.splitlines()]


def test_jsonl_streams_every_record_keyed_by_system_name_with_values_as_sent(run_cli, conn, simulator, res_keys):
    result = run_cli("query", "Property", "RES", ALL_RES, *conn, "--format", "jsonl")
    assert result.exit_code == 0, result.stderr
    records = jsonl_records(result.stdout)
    assert [r["ListingKey"] for r in records] == res_keys
    assert len(res_keys) == 46
    for record in records:
        assert record == simulator.dataset.values(record["ListingKey"], decoded=True)
    assert all(isinstance(v, str) for r in records for v in r.values())
    assert any("🌄" in r["PublicRemarks"] for r in records)  # non-ASCII kept exactly


def test_compact_gives_lookup_codes(run_cli, conn, simulator, res_keys):
    result = run_cli("query", "Property", "RES", ALL_RES, *conn, "--format", "jsonl", "--compact", "--limit", "3")
    assert result.exit_code == 0, result.stderr
    records = jsonl_records(result.stdout)
    assert [r["ListingKey"] for r in records] == res_keys[:3]
    assert records[0] == simulator.dataset.values(res_keys[0])
    assert records[0]["ListingStatus"] == "W"


def test_csv_has_a_header_and_one_row_per_record(run_cli, conn, simulator, res_keys):
    result = run_cli("query", "Property", "RES", ALL_RES, *conn, "--format", "csv")
    assert result.exit_code == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["ListingKey"] for r in rows] == res_keys
    assert rows[5] == simulator.dataset.values(res_keys[5], decoded=True)


def test_json_is_one_array(run_cli, conn, res_keys):
    result = run_cli("query", "Property", "RES", ALL_RES, *conn, "--json", "--select", "ListingKey,ListPrice")
    assert result.exit_code == 0, result.stderr
    records = json.loads(result.stdout)
    assert [r["ListingKey"] for r in records] == res_keys
    assert set(records[0]) == {"ListingKey", "ListPrice"}


def test_empty_result_is_an_empty_array(run_cli, conn):
    result = run_cli("query", "Property", "RES", "(ListPrice=999999999+)", *conn, "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == []


def test_table_shows_the_selected_fields(run_cli, conn, simulator, res_keys):
    result = run_cli("query", "Property", "RES", ALL_RES, *conn, "--select", "ListingKey,ListPrice,ListingStatus",
                     "--limit", "2")
    assert result.exit_code == 0, result.stderr
    assert "ListingKey" in result.stdout and "ListingStatus" in result.stdout
    first = simulator.dataset.values(res_keys[0], decoded=True)
    assert res_keys[0] in result.stdout and first["ListPrice"] in result.stdout
    assert res_keys[2] not in result.stdout
    assert "2 record(s)" in result.stderr


def test_limit_and_offset(run_cli, conn, res_keys):
    result = run_cli("query", "Property", "RES", ALL_RES, *conn, "--format", "jsonl", "--offset", "3", "--limit", "2",
                     "--select", "ListingKey")
    assert result.exit_code == 0, result.stderr
    assert jsonl_records(result.stdout) == [{"ListingKey": key} for key in res_keys[2:4]]


@pytest.mark.parametrize(("flags", "expected"), [
    (["--json"], {"count": 46}),
    (["--format", "json"], {"count": 46}),
    (["--format", "jsonl"], {"count": 46}),
])
def test_count_as_json(run_cli, conn, flags, expected):
    result = run_cli("query", "Property", "RES", ALL_RES, *conn, "--count", *flags)
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == expected


def test_count_for_humans_is_the_bare_number(run_cli, conn):
    result = run_cli("query", "Property", "LND", "(ListPrice=0+)", *conn, "--count")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "14\n"


def test_malformed_dmql_exits_2_with_the_position_marked_before_any_request(run_cli):
    unreachable = ["--url", "http://127.0.0.1:9/rets/Login", "--username", "u", "--password", "unused-pw"]
    query = "(ListPrice=0+),(City=Denver"
    result = run_cli("query", "Property", "RES", query, *unreachable, "--json")
    assert result.exit_code == 2
    error = json.loads(result.stdout)["error"]
    assert error["kind"] == "input"
    assert f"position {len(query)}" in error["message"]
    lines = result.stderr.splitlines()
    query_line = next(i for i, line in enumerate(lines) if line.strip() == query)
    caret = lines[query_line + 1]
    assert caret.index("^") == lines[query_line].index(query) + len(query)
    assert lines[-1].startswith("Hint: ")


def test_unknown_class_is_a_server_failure(run_cli, conn):
    result = run_cli("query", "Property", "NOPE", ALL_RES, *conn, "--json")
    assert result.exit_code == 4
    assert json.loads(result.stdout)["error"]["reply_code"] == 20203


def test_options_may_come_before_the_arguments(run_cli, conn, res_keys):
    result = run_cli("query", *conn, "--format", "jsonl", "--limit", "1", "Property", "RES", ALL_RES)
    assert result.exit_code == 0, result.stderr
    assert jsonl_records(result.stdout)[0]["ListingKey"] == res_keys[0]


def test_every_page_is_fetched_by_default(run_cli):
    from retsctl.simulator import SimulatorConfig, start_simulator

    with start_simulator(SimulatorConfig(listings=60, seed=11, page_cap=10)) as paged:
        conn = ["--url", paged.login_url, "--username", paged.username, "--password", paged.password]
        # ListPrice too: a key-only Select (a key-index download) is exempt from the page cap.
        result = run_cli("query", "Property", "RES", ALL_RES, *conn, "--format", "jsonl",
                         "--select", "ListingKey,ListPrice")
        assert result.exit_code == 0, result.stderr
        assert [r["ListingKey"] for r in jsonl_records(result.stdout)] == paged.dataset.keys("RES")
        assert "46 record(s) in 5 page(s)" in result.stderr


@pytest.mark.parametrize("format", [Format.jsonl, Format.csv, Format.json])
def test_rows_are_written_as_they_arrive(format: Format, monkeypatch) -> None:
    """Nothing is collected: when the second row is asked for, the first is already on stdout."""
    raw = io.BytesIO()
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(raw, encoding="utf-8", write_through=True))
    out = Output(format)

    def rows() -> Iterator[dict[str, str]]:
        yield {"ListingKey": "first-row"}
        assert b"first-row" in raw.getvalue()
        yield {"ListingKey": "second-row"}

    assert out.rows(rows()) == 2
    assert b"second-row" in raw.getvalue()


@pytest.mark.parametrize("format", [Format.jsonl, Format.json])
@pytest.mark.parametrize("count", [0, 1, 3])
def test_encoded_lines_print_as_the_records_do(format: Format, count: int, monkeypatch) -> None:
    """--format json/jsonl write the same bytes from records as from their encoded lines."""
    records = [{"ListingKey": str(n), "Remarks": f'Say "hi" {n}\n'} for n in range(count)]

    def printed(write: Callable[[Output], int]) -> bytes:
        raw = io.BytesIO()
        monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(raw, encoding="utf-8", write_through=True))
        assert write(Output(format)) == count
        return raw.getvalue()

    from_records = printed(lambda out: out.rows(records))
    assert printed(lambda out: out.json_lines(encode_record(r) for r in records)) == from_records
    parsed = json.loads(from_records) if format is Format.json else jsonl_records(from_records.decode())
    assert parsed == records


@pytest.mark.parametrize("format", [Format.jsonl, Format.json])
def test_rows_through_a_pipe_wait_in_the_buffer_only_briefly(format: Format, monkeypatch) -> None:
    """stdout on a real descriptor: the first row leaves at once, rows following quickly wait in
    the buffer, a row coming after a pause leaves with them, and the rest leave at the end."""
    read_end, write_end = os.pipe()
    os.set_blocking(read_end, False)
    clock = [1000.0]  # the writer's clock, moved by hand: a slow machine cannot make rows leave early
    monkeypatch.setattr(output.time, "monotonic", lambda: clock[0])

    def received() -> bytes:
        try:
            return os.read(read_end, 1 << 20)
        except BlockingIOError:
            return b""

    def rows() -> Iterator[dict[str, str]]:
        yield {"ListingKey": "first-row"}
        assert b"first-row" in received()
        yield {"ListingKey": "quick-row"}
        assert received() == b""
        clock[0] += FLUSH_SECONDS
        yield {"ListingKey": "after-a-pause"}
        assert b"quick-row" in (arrived := received()) and b"after-a-pause" in arrived
        yield {"ListingKey": "last-row"}

    with open(write_end, "w", encoding="utf-8") as stdout:
        monkeypatch.setattr(sys, "stdout", stdout)
        assert Output(format).rows(rows()) == 4
        assert b"last-row" in received()
    os.close(read_end)
