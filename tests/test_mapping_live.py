"""Mappings against the simulator over real HTTP: ``mapping init`` on its metadata, validation,
the round trip through a file, every live record mapped, and the ``retsctl mapping`` commands."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from retsctl.cli.mapping_cmd import mapping_app, preview_query
from retsctl.mapping import Mapping, RecordRejected, suggest_from_server, validate_with_server
from retsctl.mapping.validate import lookups_used
from retsctl.properties import STANDARD_STATUSES
from retsctl.rets import ConnectionSettings, Session
from retsctl.simulator import RunningSimulator, SimulatorConfig, start_simulator


@pytest.fixture(scope="module")
def simulator() -> Iterator[RunningSimulator]:
    with start_simulator(SimulatorConfig(listings=50)) as running:
        yield running


@pytest.fixture
def session(simulator: RunningSimulator) -> Iterator[Session]:
    with Session(ConnectionSettings(simulator.login_url, simulator.username, simulator.password)) as opened:
        opened.login()
        yield opened


def validate_live(mapping: Mapping, session: Session) -> list:
    fields = session.fields(mapping.resource, mapping.class_name)
    assert lookups_used(mapping, fields) == {"ListingStatus"}  # the only lookup validation needs here
    return validate_with_server(session, mapping)


def test_init_on_the_simulator_maps_every_runbook_column_and_validates(session: Session, tmp_path: Path) -> None:
    suggestion = suggest_from_server(session, "Property", "RES", "COMPACT")
    assert {row["column"]: row["source"] for row in suggestion.summary()} == {
        "external_id": "ListingId", "address": "UnparsedAddress", "list_price": "ListPrice", "bedrooms": "BedroomsTotal",
        "bathrooms": "BathroomsTotalInteger", "square_feet": "LivingArea", "year_built": "YearBuilt",
        "status": "ListingStatus", "description": "PublicRemarks", "photo_urls": None,  # GetObject fills it
    }
    assert suggestion.unmapped == []
    assert (suggestion.key_field, suggestion.timestamp_field, suggestion.metadata_version) == (
        "ListingKey", "ModificationTimestamp", "1.00.00042")
    assert suggestion.status_map() == {
        "A": "active", "C": "active_under_contract", "P": "pending", "S": "closed", "E": "expired", "W": "withdrawn",
        "X": "canceled", "CS": "coming_soon", "H": "hold", "I": "incomplete", "D": "delete"}

    path = tmp_path / "simulator.toml"
    path.write_text(suggestion.to_toml())
    mapping = Mapping.load(path)
    assert validate_live(mapping, session) == []
    assert mapping.photos_from_objects and mapping.photo_object_type == "Photo"


def test_every_live_record_maps(session: Session) -> None:
    mapping = suggest_from_server(session, "Property", "RES", "COMPACT").to_mapping()
    records = list(session.search("Property", "RES", preview_query(mapping), select=sorted(mapping.source_fields()),
                                  format=mapping.format))
    rows = [mapping.apply(record) for record in records]
    assert len(rows) == len({row["external_id"] for row in rows}) > 20
    assert {row["status"] for row in rows} <= set(STANDARD_STATUSES)
    assert all(row["modified_at"].endswith("Z") and row["list_price"] > 0 and row["source_key"] for row in rows)
    assert all(isinstance(row["bedrooms"], int) and 1800 < row["year_built"] <= 2025 for row in rows)


def test_decoded_records_need_a_decoded_mapping(session: Session) -> None:
    compact = suggest_from_server(session, "Property", "RES", "COMPACT").to_mapping()
    decoded = suggest_from_server(session, "Property", "RES", "COMPACT-DECODED").to_mapping()
    assert decoded.status_map["Active Under Contract"] == "active_under_contract"
    record = next(iter(session.search("Property", "RES", "(ListingStatus=|C)", select=sorted(compact.source_fields()),
                                      limit=1, format="COMPACT-DECODED")))
    assert decoded.apply(record)["status"] == "active_under_contract"
    with pytest.raises(RecordRejected, match="unknown status code 'Active Under Contract'"):
        compact.apply(record)


def test_validate_finds_what_breaks_a_live_mapping(session: Session) -> None:
    mapping = Mapping.loads("""
[source]
resource = "Property"
class = "RES"
key_field = "ListingKey"
timestamp_field = "ListingContractDate"
metadata_version = "1.00.00041"
[columns]
external_id = "ListingId"
list_price = "ListPrice"
bedrooms = "PublicRemarks"
bathrooms = "BathroomsTotl"
status = { source = "ListingStatus", transform = "status" }
[status]
A = "active"
S = "closed"
""")
    problems = {(problem.severity, problem.column, problem.message) for problem in validate_live(mapping, session)}
    assert ("error", "bathrooms", "unknown field 'BathroomsTotl'") in problems
    assert ("warning", "bedrooms", "PublicRemarks is Character: values that are not numbers will be rejected") in problems
    assert ("error", "status", "lookup value 'CS' (Coming Soon) of ListingStatus has no status: records with it "
                               "would be rejected") in problems
    assert sum(message.startswith("lookup value") for _, _, message in problems) == 9
    assert ("warning", None, "built against metadata 1.00.00041, the server now has 1.00.00042: check "
                             "`retsctl metadata diff` and re-run validate") in problems


# --- the commands -----------------------------------------------------------------------------------


@pytest.fixture
def cli(simulator: RunningSimulator) -> Iterator:
    app = typer.Typer()

    @app.callback()
    def root() -> None:
        """Test root for the mapping sub-app (the real one is registered in retsctl/cli/app.py)."""

    app.add_typer(mapping_app, name="mapping")
    connection = ["--url", simulator.login_url, "--username", simulator.username, "--password", simulator.password]

    def run(*args: str) -> object:
        return CliRunner().invoke(app, ["mapping", *args, *connection])

    yield run


def test_init_validate_preview_commands(cli, tmp_path: Path) -> None:
    path = tmp_path / "mappings" / "sim.toml"
    init = cli("init", "--resource", "Property", "--class", "RES", "--out", str(path))
    assert init.exit_code == 0, init.output
    assert "list_price <- ListPrice (1.00)" in init.stderr
    assert f"Mapping written to {path}" in init.stderr
    assert '[columns.list_price]\n# ListPrice "List Price" (Int, Currency): confidence 1.00' in path.read_text()

    checked = cli("validate", str(path), "--json")
    assert checked.exit_code == 0, checked.output
    assert json.loads(checked.stdout) == {"ok": True, "problems": []}

    shown = cli("preview", str(path), "--limit", "3", "--json")
    assert shown.exit_code == 0, shown.output
    records = json.loads(shown.stdout)
    assert len(records) == 3 and all(record["rejected"] is None for record in records)
    first = records[0]
    assert first["row"]["external_id"] == first["source"]["ListingId"]
    assert first["row"]["list_price"] == first["source"]["ListPrice"]  # Decimal shown as its exact text
    assert first["row"]["photo_urls"] == []
    assert "3 records mapped, 0 rejected" in shown.stderr

    table = cli("preview", str(path), "--limit", "1")
    assert table.exit_code == 0
    assert "│ photo_urls  │ []" in table.stdout
    assert "(the sync fills it from" in table.stdout


def test_init_refuses_to_overwrite_and_update_keeps_the_file(cli, tmp_path: Path) -> None:
    path = tmp_path / "sim.toml"
    assert cli("init", "--resource", "Property", "--class", "RES", "--out", str(path)).exit_code == 0
    path.write_text(path.read_text().replace('H = "hold"', 'H = "withdrawn" # ops: we treat holds as withdrawn'))
    again = cli("init", "--resource", "Property", "--class", "RES", "--out", str(path))
    assert again.exit_code == 2
    assert "exists" in again.stderr and "--update" in again.stderr
    updated = cli("init", "--resource", "Property", "--class", "RES", "--out", str(path), "--update")
    assert updated.exit_code == 0, updated.output
    assert 'H = "withdrawn" # ops: we treat holds as withdrawn' in path.read_text()


def test_unknown_class_and_broken_files_exit_2(cli, tmp_path: Path) -> None:
    wrong_class = cli("init", "--resource", "Property", "--class", "CONDO")
    assert wrong_class.exit_code == 2
    assert "resource Property has no class 'CONDO'" in wrong_class.stderr
    assert "RES, LND" in wrong_class.stderr

    broken = tmp_path / "broken.toml"
    broken.write_text('[source]\nresource = "Property"\nclass = "RES"\nkey_field = "ListingKey"\n'
                      'timestamp_field = "ModificationTimestamp"\n[columns]\nexternal_id = "ListingID"\n')
    result = cli("validate", str(broken), "--json")
    assert result.exit_code == 2
    assert json.loads(result.stdout)["problems"][0] == {
        "severity": "error", "message": "unknown field 'ListingID'", "column": "external_id", "field": "ListingID",
        "record_level": False}

    malformed = tmp_path / "malformed.toml"
    malformed.write_text("[source\n")
    result = cli("preview", str(malformed))
    assert result.exit_code == 2
    assert f"{malformed}:1: not valid TOML" in result.stderr


def test_land_class_reports_what_it_cannot_map(cli) -> None:
    result = cli("init", "--resource", "Property", "--class", "LND", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert [line.split(":")[0] for line in report["unmapped"]] == [
        "bedrooms", "bathrooms", "square_feet", "year_built"]
    assert report["toml"].startswith("# retsctl mapping for Property/LND")
    assert Mapping.loads(report["toml"]).columns["list_price"].fields == ("ListPrice",)
