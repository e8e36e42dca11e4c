"""The mapping file: loading and its errors (with line numbers), the shipped mappings, validation
against real metadata, and rewriting a file without losing its comments."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import tomlkit
from fixture_files import load_fixture

from retsctl.mapping import Mapping, MappingError, RecordRejected, suggest_mapping, validate_mapping
from retsctl.mapping.document import read_document, update_document, write_document
from retsctl.rets.metadata import LookupValue, MetadataResponse, parse_metadata

MAPPINGS = Path(__file__).resolve().parents[1] / "mappings"
CRT = "NationalAssociationOfRealtors-libRETS/test-network/full-metadata"

SOURCE = """\
[source]
resource = "Property"
class = "ResidentialProperty"
key_field = "LN"
timestamp_field = "TIMESTAMP"
"""


def load(text: str) -> Mapping:
    return Mapping.loads(SOURCE + text, path=Path("feed.toml"))


# --- loading errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ('[columns.external_id]\nsource = "LN"\n[columns.list_price]\nsource = "LP"\ntransform = "float"\n', 10,
         "unknown transform 'float' for list_price"),
        ('[columns.external_id]\nsource = "LN"\n[columns.price]\nsource = "LP"\n', 8, "unknown column 'price'"),
        ('[columns.external_id]\nsource = "LN"\n[columns.list_price]\nsource = "LP"\ntransform = "status"\n', 10,
         "transform 'status' cannot fill list_price (decimal); use decimal or integer"),
        ('[columns.external_id]\nsource = "LN"\n[status]\nA = "active"\nS = "sold"\n', 10,
         "status 'S' maps to 'sold', which is not a standard status"),
        ('[columns.external_id]\nsorce = "LN"\n', 7, "unknown key 'sorce' in [columns.external_id]"),
        ('[columns.list_price]\nsource = "LP"\n', 6, "no rule for external_id"),
        ('[columns.external_id]\nsource = "LN"\n[columns.bedrooms]\nsource = ["BEDS", "BEDROOMS"]\n', 9,
         "only text columns can concatenate or decorate fields (bedrooms is integer)"),
        ('[columns.external_id]\nsource = "LN"\n[columns.address]\nsource = [{ field = "STNAME", decode = true }]\n', 9,
         "STNAME is decoded but there is no [lookups.STNAME] table"),
        ('[columns.external_id]\nsource = "LN"\n[columns.bedrooms]\nvalue = 2.5\n', 9,
         "columns.bedrooms.value: 2.5 is not a whole number"),
        ('[columns.external_id]\nsource = "LN"\n[columns.status]\nvalue = "sold"\n', 9, "'sold' is not a standard status"),
        ('[columns.external_id]\nsource = "LN"\n[columns.modified_at]\nsource = "TIMESTAMP"\ntimezone = "Mars/Base"\n', 10,
         "unknown time zone 'Mars/Base'"),
        ('[columns.external_id]\nsource = "LN"\n[columns.address]\nclean = true\n', 8,
         "address needs a source field or a constant value"),
        ('[columns.external_id\nsource = "LN"\n', 6, "not valid TOML"),
    ],
)
def test_load_errors_name_file_and_line(text: str, line: int, message: str) -> None:
    with pytest.raises(MappingError) as error:
        load(text)
    assert error.value.line == line
    assert error.value.message.startswith(f"feed.toml:{line}: ")
    assert message in error.value.message
    assert error.value.kind == "input"


def test_source_needs_its_keys_and_a_known_format() -> None:
    with pytest.raises(MappingError, match=r"\[source\] needs timestamp_field"):
        Mapping.loads('[source]\nresource = "P"\nclass = "R"\nkey_field = "K"\n[columns]\nexternal_id = "K"\n')
    with pytest.raises(MappingError, match="format must be one of COMPACT, COMPACT-DECODED, not 'STANDARD-XML'"):
        Mapping.loads(SOURCE + 'format = "STANDARD-XML"\n[columns]\nexternal_id = "LN"\n')


def test_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match="cannot read the mapping file") as error:
        Mapping.load(tmp_path / "nope.toml")
    assert error.value.kind == "input"


def test_shorthand_rules_use_the_columns_natural_transform() -> None:
    mapping = load('[columns]\nexternal_id = "LN"\nlist_price = "LP"\nbedrooms = "BEDROOMS"\n'
                   'address = ["STNUM", "STNAME"]\n')
    assert {column: rule.transform for column, rule in mapping.columns.items()} == {
        "external_id": "text", "list_price": "decimal", "bedrooms": "integer", "address": "text"}
    row = mapping.apply({"LN": "9", "LP": "100", "BEDROOMS": "2", "STNUM": "5", "STNAME": "Elm", "TIMESTAMP": ""})
    assert (row["list_price"], row["bedrooms"], row["address"], row["status"]) == (Decimal(100), 2, "5 Elm", None)


# --- the shipped mappings ------------------------------------------------------------------------


def test_default_mapping_is_the_runbook_table() -> None:
    mapping = Mapping.load(MAPPINGS / "default.toml")
    assert {column: rule.fields for column, rule in mapping.columns.items()} == {
        "external_id": ("ListingID",), "address": ("StreetAddress",), "list_price": ("ListPrice",),
        "bedrooms": ("BedroomsTotal",), "bathrooms": ("BathroomsTotal",), "square_feet": ("LivingArea",),
        "year_built": ("YearBuilt",), "status": ("ListingStatus",), "description": ("PublicRemarks",),
        "photo_urls": ("Photos",),
    }
    row = mapping.apply({"ListingID": "M1", "StreetAddress": "1 Main St", "ListPrice": "500000", "BedroomsTotal": "4",
                         "BathroomsTotal": "2.5", "LivingArea": "2100.00", "YearBuilt": "1987",
                         "ListingStatus": "Active Under Contract", "PublicRemarks": "Bright.",
                         "Photos": "https://p/1.jpg,https://p/2.jpg", "LastModified": "2025-12-18T10:00:00Z"})
    assert row["status"] == "active_under_contract"
    assert row["square_feet"] == 2100
    assert row["photo_urls"] == ["https://p/1.jpg", "https://p/2.jpg"]
    assert row["modified_at"] == "2025-12-18T10:00:00Z"


def test_cryptic_vendor_example_loads_and_maps() -> None:
    mapping = Mapping.load(MAPPINGS / "example-cryptic-vendor.toml")
    assert mapping.photos_from_objects and mapping.photo_object_type == "Photo"
    row = mapping.apply({"LIST_1": "20140708201020", "LIST_105": "14-1", "LIST_31": "12", "LIST_33": "",
                         "LIST_34": "Oak", "LIST_37": "5PSUX4B0Q1B", "LIST_36": "NW", "LIST_22": "250000.00",
                         "LIST_15": "5PSUX49R8TM", "LIST_48": "1850.50", "LIST_87": "2014-07-08T15:10:20"})
    assert (row["address"], row["status"], row["square_feet"]) == ("12 Oak Ave NW", "active_under_contract", 1851)
    assert row["modified_at"] == "2014-07-08T20:10:20Z"  # Chicago daylight time is UTC-5
    with pytest.raises(RecordRejected, match="unknown status code"):
        mapping.apply({"LIST_1": "1", "LIST_105": "1", "LIST_15": "NOPE"})


# --- validation against real metadata (the CRT reference server) --------------------------------


@pytest.fixture(scope="module")
def crt() -> MetadataResponse:
    return parse_metadata(load_fixture(CRT).body)


def crt_parts(crt: MetadataResponse) -> tuple[list, dict[str, list[LookupValue]]]:
    fields = [item for item in crt.fields() if item.class_name == "ResidentialProperty"]
    lookups: dict[str, list[LookupValue]] = {}
    for value in crt.lookup_values():
        lookups.setdefault(value.lookup or "", []).append(value)
    return fields, lookups


def test_validate_reports_unknown_fields_type_mismatches_and_statuses(crt: MetadataResponse) -> None:
    fields, lookups = crt_parts(crt)
    mapping = Mapping.loads(SOURCE + """
base_filter = "(NOSUCH=1)"
metadata_version = "100.00.001"
[columns]
external_id = "LN"
list_price = "LD"
bedrooms = "CITY"
bathrooms = "BATHROOMS_TOTAL"
status = { source = "LS", transform = "status" }
[status]
A = "active"
S = "closed"
P = "pending"
Q = "expired"
""")
    problems = validate_mapping(mapping, fields, lookups, metadata_version="100.00.002")
    found = {(problem.severity, problem.column, problem.field, problem.message) for problem in problems}
    assert ("error", "bathrooms", "BATHROOMS_TOTAL", "unknown field 'BATHROOMS_TOTAL'") in found
    assert ("error", "list_price", "LD", "LD is Date: not a number") in found
    assert ("warning", "bedrooms", "CITY", "CITY is Character: values that are not numbers will be rejected") in found
    missing = sorted(p.message.split("'")[1] for p in problems if p.message.startswith("lookup value"))
    assert missing == ["C", "L", "O", "T", "U", "W", "X"]  # LISTING_STATUS codes without a status
    assert any(p.severity == "warning" and p.message == "[status] 'Q' is not a value of lookup LISTING_STATUS (stale?)"
               for p in problems)
    assert ("error", "base_filter: unknown field 'NOSUCH' at position 1") in {(p.severity, p.message) for p in problems}
    assert ("warning", "built against metadata 100.00.001, the server now has 100.00.002: check `retsctl metadata diff` "
            "and re-run validate") in {(p.severity, p.message) for p in problems}
    assert [p.severity for p in problems] == sorted((p.severity for p in problems), key=lambda s: s != "error")


def test_suggested_crt_mapping_validates_clean(crt: MetadataResponse) -> None:
    fields, lookups = crt_parts(crt)
    suggestion = suggest_mapping("Property", "ResidentialProperty", crt.resources(), crt.classes(), fields, lookups)
    problems = validate_mapping(suggestion.to_mapping(), fields, lookups)
    assert [p for p in problems if p.severity == "error"] == []
    assert {p.column for p in problems} == {"description", "status"}  # no remarks field; LS declares no lookup


# --- rewriting keeps comments -----------------------------------------------------------------


def test_update_keeps_comments_and_choices_and_adds_new_codes(crt: MetadataResponse, tmp_path: Path) -> None:
    fields, lookups = crt_parts(crt)
    path = tmp_path / "crt.toml"
    suggestion = suggest_mapping("Property", "ResidentialProperty", crt.resources(), crt.classes(), fields, lookups)
    path.write_text(suggestion.to_toml())

    # The operator edits the file: a different choice for "T", a comment of their own.
    document = read_document(path)
    document["status"]["T"] = "withdrawn"
    document["status"]["T"].comment("ops: Temp Off Market counts as withdrawn for us")
    document["columns"]["list_price"].add(tomlkit.comment("ops: checked against the MLS site 2025-06"))
    write_document(document, path)

    # The MLS adds a status value and bumps its metadata version.
    new_value = LookupValue(attributes={"Value": "CS", "LongValue": "Coming Soon", "ShortValue": "CS"},
                            scope={"Lookup": "LISTING_STATUS"})
    lookups["LISTING_STATUS"] = [*lookups["LISTING_STATUS"], new_value]
    fresh = suggest_mapping("Property", "ResidentialProperty", crt.resources(), crt.classes(), fields, lookups,
                            metadata_version="100.00.002")
    document = read_document(path)
    changes = update_document(document, fresh)
    write_document(document, path)

    text = path.read_text()
    assert changes == ["metadata_version: 100.00.001 -> 100.00.002", "status 'CS' (Coming Soon): coming_soon"]
    assert 'T = "withdrawn" # ops: Temp Off Market counts as withdrawn for us' in text
    assert "# ops: checked against the MLS site 2025-06" in text
    assert "# LP \"Listing Price\" (Int, Currency): confidence 1.00" in text  # the suggestion's own comments
    assert 'CS = "coming_soon" # Coming Soon (1.00)' in text
    mapping = Mapping.load(path)
    assert (mapping.status_map["T"], mapping.status_map["CS"], mapping.metadata_version) == (
        "withdrawn", "coming_soon", "100.00.002")
