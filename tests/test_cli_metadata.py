"""`retsctl metadata …` against the real simulator, and its local cache."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from retsctl.store import open_db
from retsctl.store.metadata_cache import MetadataCache, MetadataKey

VERSION = "1.00.00042"


def metadata_requests(capture: Path) -> list[str]:
    """The GetMetadata URLs a --record capture holds."""
    entries = json.loads(capture.read_text())["log"]["entries"]
    return [e["request"]["url"] for e in entries if "/GetMetadata" in e["request"]["url"]]


@pytest.mark.parametrize(
    ("args", "key_attribute", "expected_keys", "some_attributes"),
    [
        (["resources"], "ResourceID", ["Property"], {"KeyField", "StandardName", "ClassCount"}),
        (["classes", "Property"], "ClassName", ["RES", "LND"], {"StandardName", "ClassTimeStamp", "HasKeyIndex"}),
        (["objects", "Property"], "ObjectType", ["Photo", "Thumbnail"], {"MIMEType", "VisibleName"}),
        (
            ["lookups", "Property", "ListingStatus"],
            "Value",
            ["A", "C", "P", "S", "E", "W", "X", "CS", "H", "I", "D"],
            {"LongValue", "ShortValue"},
        ),
    ],
)
def test_metadata_json_is_an_array_keyed_by_rets_attribute_names(
    run_cli, conn, args, key_attribute, expected_keys, some_attributes
):
    result = run_cli("metadata", *args, *conn, "--json")
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [row[key_attribute] for row in rows] == expected_keys
    assert some_attributes <= set(rows[0])
    assert all(isinstance(value, str) for row in rows for value in row.values())


def test_fields_match_the_servers_table_metadata(run_cli, conn, simulator):
    result = run_cli("metadata", "fields", "Property", "RES", *conn, "--json")
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [row["SystemName"] for row in rows] == list(simulator.dataset.field_names("RES"))
    status = next(row for row in rows if row["SystemName"] == "ListingStatus")
    assert status["StandardName"] == "StandardStatus"
    assert status["Interpretation"] == "Lookup"
    assert status["LookupName"] == "ListingStatus"
    assert status["Searchable"] == "1"


def test_human_listing_shows_the_chosen_columns(run_cli, conn):
    result = run_cli("metadata", "lookups", "Property", "ListingStatus", *conn)
    assert result.exit_code == 0, result.stderr
    assert "LongValue" in result.stdout and "Active Under Contract" in result.stdout


def test_second_call_is_served_from_the_cache_and_refresh_asks_again(run_cli, conn, tmp_path: Path):
    first, second, third = (tmp_path / f"{n}.har" for n in ("first", "second", "third"))
    fetched = run_cli("metadata", "fields", "Property", "RES", *conn, "--json", "--record", first)
    cached = run_cli("metadata", "fields", "Property", "RES", *conn, "--json", "--record", second)
    refreshed = run_cli("metadata", "fields", "Property", "RES", *conn, "--json", "--refresh", "--record", third)
    assert [r.exit_code for r in (fetched, cached, refreshed)] == [0, 0, 0]
    assert fetched.stdout == cached.stdout == refreshed.stdout
    assert any("Type=METADATA-TABLE&ID=Property%3ARES" in url for url in metadata_requests(first))
    assert metadata_requests(second) == []
    assert "from the local cache" in cached.stderr
    assert any("Type=METADATA-TABLE" in url for url in metadata_requests(third))


def test_cache_is_keyed_by_server_user_and_metadata_version(run_cli, conn, simulator):
    cache = MetadataCache(open_db())
    planted = [{"ResourceID": "Planted", "KeyField": "Id"}]
    stale = [{"ResourceID": "Stale"}]
    cache.put(MetadataKey(simulator.login_url, "demo", VERSION, "METADATA-RESOURCE", "0"), planted)
    cache.put(MetadataKey(simulator.login_url, "demo", "0.00.00001", "METADATA-CLASS", "Property"), stale)

    resources = run_cli("metadata", "resources", *conn, "--json")
    classes = run_cli("metadata", "classes", "Property", *conn, "--json")
    assert json.loads(resources.stdout) == planted  # current version: served from the cache
    assert [row["ClassName"] for row in json.loads(classes.stdout)] == ["RES", "LND"]  # old version: ignored
    stored = cache.get(MetadataKey(simulator.login_url, "demo", VERSION, "METADATA-CLASS", "Property"))
    assert [row["ClassName"] for row in stored] == ["RES", "LND"]


def test_unknown_resource_is_a_server_failure(run_cli, conn):
    result = run_cli("metadata", "classes", "Nope", *conn, "--json")
    assert result.exit_code == 4
    assert json.loads(result.stdout)["error"]["reply_code"] == 20500


def test_database_is_created_in_wal_mode_and_migrations_are_idempotent(retsctl_home: Path):
    db = open_db()
    assert db.journal_mode == "wal"
    assert (retsctl_home / "retsctl.db").exists()
    assert "metadata_cache" in db.table_names()
    applied = [row["name"] for row in db["_sqlite_migrations"].rows]
    assert applied[0] == "0001_metadata_cache"
    again = open_db()
    assert [row["name"] for row in again["_sqlite_migrations"].rows] == applied


def test_diff_reports_what_changed_since_the_cached_version(run_cli, conn, simulator):
    current = json.loads(run_cli("metadata", "fields", "Property", "RES", *conn, "--json").stdout)
    by_name = {row["SystemName"]: row for row in current}
    older = [row for name, row in by_name.items() if name != "YearBuilt"]  # the server added YearBuilt
    older.append({**by_name["ListPrice"], "SystemName": "OldPrice"})  # and dropped OldPrice
    older = [{**row, "DataType": "Character"} if row["SystemName"] == "LivingArea" else row for row in older]
    older = [{**row, "LongName": "Status (old)"} if row["SystemName"] == "ListingStatus" else row for row in older]
    MetadataCache(open_db()).put(MetadataKey(simulator.login_url, "demo", "0.99.00001", "METADATA-TABLE", "Property:RES"),
                                 older)

    result = run_cli("metadata", "diff", *conn, "--json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["from_version"], report["to_version"]) == ("0.99.00001", VERSION)
    changes = {(c["item"], c["change"]) for c in report["changes"]}
    assert changes == {("YearBuilt", "added"), ("OldPrice", "removed"), ("LivingArea", "retyped"),
                       ("ListingStatus", "changed")}
    retyped = next(c for c in report["changes"] if c["item"] == "LivingArea")
    assert retyped["attributes"]["DataType"]["from"] == "Character"


def test_diff_without_an_earlier_version_says_so(run_cli, conn):
    result = run_cli("metadata", "diff", *conn, "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["changes"] == [] and "nothing to compare" in result.stderr


def test_diff_reports_a_class_that_is_gone(run_cli, conn, simulator):
    MetadataCache(open_db()).put(MetadataKey(simulator.login_url, "demo", "0.99.00002", "METADATA-TABLE", "Property:OLD"),
                                 [{"SystemName": "OnlyField", "DataType": "Int"}])
    report = json.loads(run_cli("metadata", "diff", *conn, "--json").stdout)
    assert {(c["id"], c["item"], c["change"]) for c in report["changes"]} == {("Property:OLD", "OnlyField", "removed")}
