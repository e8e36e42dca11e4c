"""``mapping init``'s suggestions from real captured metadata (shared/fixtures/rets), one test per
fixture set that carries TABLE metadata, each stating what it maps; and status values read by
meaning from every status lookup in the fixtures."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from fixture_files import load_fixture

from retsctl.mapping import Mapping, MappingError, suggest_mapping
from retsctl.mapping.status import classify_status
from retsctl.mapping.suggest import SuggestedMapping, lookups_needed
from retsctl.rets.metadata import LookupValue, MetadataResponse, parse_metadata

FLEXMLS = "troydavisson-PHRETS/get/retsgw.flexmls.com/rets2_1_GetMetadata/"
LIBRETS = "NationalAssociationOfRealtors-libRETS/"
REFINDLY = "refindlyllc-rets/"


def metadata(*paths: str) -> MetadataResponse:
    """Several captures of one server read as one metadata tree."""
    responses = [parse_metadata(load_fixture(path).body) for path in paths]
    return MetadataResponse(segments=[segment for response in responses for segment in response.segments],
                            system=next((response.system for response in responses if response.system), None))


def lookups_of(response: MetadataResponse) -> dict[str, list[LookupValue]]:
    lookups: dict[str, list[LookupValue]] = {}
    for value in response.lookup_values():
        lookups.setdefault(value.lookup or "", []).append(value)
    return lookups


def suggest(response: MetadataResponse, class_name: str, resource: str = "Property") -> SuggestedMapping:
    fields = [item for item in response.fields() if item.class_name in (class_name, None)]
    return suggest_mapping(
        resource, class_name, response.resources(), response.classes(), fields, lookups_of(response),
        object_types=response.object_types(),
        time_zone_offset=response.system.time_zone_offset if response.system else None,
    )


def sources(suggestion: SuggestedMapping) -> dict[str, str | None]:
    """column → "FIELD" or "A + B" (joined parts); None when not mapped."""
    return {row["column"]: row["source"] for row in suggestion.summary()}  # type: ignore[misc]


def round_trip(suggestion: SuggestedMapping) -> Mapping:
    mapping = Mapping.loads(suggestion.to_toml())
    assert set(mapping.columns) == set(suggestion.choices)
    return mapping


def test_flexmls_cryptic_names() -> None:
    """flexmls demo (LIST_n names): LIST_105→external_id, LIST_31+33+34+37+36→address, LIST_22→list_price,
    LIST_66→bedrooms, LIST_67→bathrooms, LIST_48→square_feet (rounded), LIST_53→year_built (not the
    free-text LIST_58), LIST_15→status, LIST_78→description (not LIST_79, Private Remarks)."""
    response = metadata(*(FLEXMLS + name for name in (
        "b3a4345b713492d24315d1f92665d7a6.txt",  # RESOURCE
        "9ed93625ec4cad577e42158701ae7b44.txt",  # CLASS
        "3f61a38b92bfdb51eaf133bf516b2483.txt",  # SYSTEM, TimeZoneOffset -05:00
        "9d194ccfcc9edb5a93dea267d1f9c91d.txt",  # OBJECT
        "bbe857812f04d9e40c3508c212ab0ebe.txt",  # TABLE Property:A
    )))
    suggestion = suggest(response, "A")
    assert sources(suggestion) == {
        "external_id": "LIST_105", "address": "LIST_31 + LIST_33 + LIST_34 + LIST_37 + LIST_36",
        "list_price": "LIST_22", "bedrooms": "LIST_66", "bathrooms": "LIST_67", "square_feet": "LIST_48",
        "year_built": "LIST_53", "status": "LIST_15", "description": "LIST_78", "photo_urls": None,
    }
    assert (suggestion.key_field, suggestion.timestamp_field) == ("LIST_1", "LIST_87")
    assert (suggestion.server_timezone, suggestion.metadata_version, suggestion.photo_object_type) == (
        "-05:00", "01.03.28598", "Photo")
    assert suggestion.choices["square_feet"].round
    # The TABLE names the status lookup but no LOOKUP_TYPE capture holds its values.
    assert suggestion.unmapped == ["status values: lookup 20000426151013377656000000, and no lookup values were found; "
                                   "fill [status] by hand"]
    mapping = round_trip(suggestion)
    row = mapping.apply({"LIST_1": "1", "LIST_105": "14-1", "LIST_31": "12", "LIST_34": "Oak", "LIST_37": "St",
                         "LIST_22": "250000.00", "LIST_48": "1850.50", "LIST_87": "2014-07-08T10:00:00"})
    assert (row["address"], row["square_feet"], row["modified_at"]) == ("12 Oak St", 1851, "2014-07-08T15:00:00Z")


@pytest.mark.parametrize(("capture", "class_name"), [("4f4529540496ce9bc194500a6d109a2c.txt", "RETSSESSIONID"),
                                                     ("df6c017842562b837dd77c23a95c5777.txt", "-")])
def test_flexmls_limited_tables_map_only_the_listing_id(capture: str, class_name: str) -> None:
    """flexmls TABLEs whose LongNames are the SystemNames again (LIST_22 "LIST_22"): only LIST_105
    ("Listing ID") → external_id, which also stands in for the unknown KeyField, and LIST_87
    ("Timestamp", DateTime) is the timestamp; the rest is reported, nothing is guessed."""
    suggestion = suggest(metadata(FLEXMLS + capture), class_name)
    assert {column: source for column, source in sources(suggestion).items() if source} == {"external_id": "LIST_105"}
    assert (suggestion.key_field, suggestion.timestamp_field) == ("LIST_105", "LIST_87")
    assert [line.split(":")[0] for line in suggestion.unmapped] == [
        "list_price", "bedrooms", "bathrooms", "square_feet", "year_built", "status", "description", "address"]


@pytest.mark.parametrize("capture", ["test-network/full-metadata", "test/raw-metadata"])
def test_crt_reference_server_residential(capture: str) -> None:
    """CRT/Variman full tree: LN→external_id, STNUM+STREETDIRECTION+STNAME+UNNUM→address (unit
    prefixed), LP→list_price, BEDROOMS→bedrooms, BATHS→bathrooms, LivingArea→square_feet (runner-up
    SQFT), YearBuilt→year_built, LS→status with the LISTING_STATUS lookup found by name."""
    suggestion = suggest(metadata(LIBRETS + capture), "ResidentialProperty")
    assert sources(suggestion) == {
        "external_id": "LN", "address": "STNUM + STREETDIRECTION + STNAME + UNNUM", "list_price": "LP",
        "bedrooms": "BEDROOMS", "bathrooms": "BATHS", "square_feet": "LivingArea", "year_built": "YearBuilt",
        "status": "LS", "description": None, "photo_urls": None,
    }
    assert suggestion.choices["square_feet"].runner_up.startswith('SQFT "Square Footage" (Decimal)')
    assert suggestion.choices["address"].prefixes == {"UNNUM": "Unit "}
    assert (suggestion.key_field, suggestion.timestamp_field) == ("LN", "TIMESTAMP")
    assert suggestion.status_lookup == "LISTING_STATUS"
    assert suggestion.status_map() == {
        "X": "expired", "U": "active_under_contract", "A": "active", "O": "withdrawn", "T": "hold", "L": "closed",
        "W": "withdrawn", "C": "closed", "S": "closed", "P": "pending"}
    assert suggestion.unmapped == ["description: no field matches"]
    mapping = round_trip(suggestion)
    row = mapping.apply({"LN": "100", "STNUM": "12", "STNAME": "Elm", "UNNUM": "3", "LS": "U",
                         "TIMESTAMP": "2002-03-20T12:03:38"})
    assert (row["address"], row["status"]) == ("12 Elm Unit 3", "active_under_contract")


def test_crt_condo_class_uses_its_declared_lookup_and_a_character_sqft() -> None:
    """CRT class CON: STATUS (Lookup LISTING_STATUS)→status, SQFT (StandardName LivingArea but typed
    Character)→square_feet with low confidence; no timestamp field."""
    suggestion = suggest(metadata(LIBRETS + "test/raw-metadata"), "CON")
    assert {column: source for column, source in sources(suggestion).items() if source} == {
        "external_id": "LN", "address": "STNUM + STNAME", "list_price": "LP", "square_feet": "SQFT", "status": "STATUS"}
    assert suggestion.choices["square_feet"].confidence == 0.6
    assert suggestion.status_lookup == "LISTING_STATUS" and len(suggestion.status_map()) == 10
    assert "timestamp_field: no DateTime field looks like a modification timestamp" in suggestion.unmapped


def test_crt_commercial_falls_back_to_the_key_field() -> None:
    """CRT CommercialProperty (UBL-style names): LN (KeyField, "Property ID")→external_id as a fallback,
    Address→address, YearBuilt (Character)→year_built; the Character "Sale Asking Price" is too weak."""
    suggestion = suggest(metadata(LIBRETS + "test/raw-metadata"), "CommercialProperty")
    assert {column: source for column, source in sources(suggestion).items() if source} == {
        "external_id": "LN", "address": "Address", "year_built": "YearBuilt"}
    assert suggestion.choices["external_id"].reason == "the RESOURCE KeyField: no listing-number field found"
    assert any(line.startswith('list_price: no field matches (closest: SaleAskingPrice') for line in suggestion.unmapped)


def test_librets_variman_table_capture() -> None:
    """libRETS metadata-table.9 (Variman, TABLE only): the same residential choices; LS has no lookup
    here, so the status map is left for the operator."""
    suggestion = suggest(metadata(LIBRETS + "test-network/metadata-table.9"), "ResidentialProperty")
    assert sources(suggestion)["address"] == "STNUM + STREETDIRECTION + STNAME + UNNUM"
    assert sources(suggestion)["status"] == "LS"
    assert suggestion.status_values == []
    assert "status values: the field has no lookup, and no lookup values were found; fill [status] by hand" in \
        suggestion.unmapped


def test_rets4r_spec_sample() -> None:
    """rets4r metadata.xml (the spec's NTREIS sample, 8 fields): LN (StandardName ListID)→external_id,
    LP→list_price; nothing else exists to map."""
    suggestion = suggest(metadata("josephholsten-rets4r/metadata.xml"), "RES")
    assert {column: source for column, source in sources(suggestion).items() if source} == {
        "external_id": "LN", "list_price": "LP"}
    assert (suggestion.key_field, suggestion.metadata_version) == ("LN", "1.00.000")
    assert len(suggestion.unmapped) == 8


@pytest.mark.parametrize("table", ["COMPACT-DECODED/GetMetadata_table.xml", "STANDARD-XML/GetMetadata_table2.xml"])
def test_refindly_matrix_like_set(table: str) -> None:
    """refindly's Matrix-like captures (the TABLE in COMPACT or in STANDARD-XML): MLSNumber→external_id, StreetNumber+StreetDirPrefix+StreetName+
    StreetSuffix+StreetDirSuffix+UnitNumber→address (runner-up FullAddress), ListPrice→list_price
    (runner-up CurrentPrice), BedsTotal→bedrooms (not the Bedrooms lookup), BathsTotal→bathrooms,
    ApproxLivingArea→square_feet, Status→status; MatrixModifiedDT is the timestamp."""
    response = metadata(*(REFINDLY + name for name in (
        "COMPACT-DECODED/GetMetadata_resources.xml", "COMPACT-DECODED/GetMetadata_classes.xml",
        "COMPACT-DECODED/GetMetadata_objects.xml", table,
        "STANDARD-XML/GetMetadata_lookup.xml",  # the Status lookup: A-Active, C-Continue Show, …
    )))
    suggestion = suggest(response, "RES")
    assert sources(suggestion) == {
        "external_id": "MLSNumber",
        "address": "StreetNumber + StreetDirPrefix + StreetName + StreetSuffix + StreetDirSuffix + UnitNumber",
        "list_price": "ListPrice", "bedrooms": "BedsTotal", "bathrooms": "BathsTotal", "square_feet": "ApproxLivingArea",
        "year_built": "YearBuilt", "status": "Status", "description": None, "photo_urls": None,
    }
    assert suggestion.choices["address"].runner_up.startswith('FullAddress "Full Address"')
    assert suggestion.choices["list_price"].runner_up.startswith('CurrentPrice "Current Price"')
    assert (suggestion.key_field, suggestion.timestamp_field, suggestion.metadata_version) == (
        "matrix_unique_id", "MatrixModifiedDT", "1.00.00579")
    assert suggestion.status_map() == {
        "A": "active", "C": "active_under_contract", "I": "incomplete", "P": "pending", "S": "closed", "T": "hold",
        "U": "active_under_contract", "W": "withdrawn", "X": "expired"}
    assert suggestion.unmapped == ["description: no field matches"]
    toml = suggestion.to_toml()
    assert 'C = "active_under_contract" # C-Continue Show (1.00)' in toml
    assert round_trip(suggestion).status_map["T"] == "hold"


def test_refindly_numeric_system_names() -> None:
    """refindly STANDARD-XML TABLE (SystemNames are numbers): 157 ("ML#")→external_id, 1487 ("Address
    (Internet Display)")→address, 137→list_price, 25 ("#Beds")→bedrooms, 129→square_feet,
    314→year_built, 246→status, 214 (Remarks; runner-up 115 Internet Remarks)→description; only
    full/half bath counts exist, so bathrooms is reported."""
    suggestion = suggest(metadata(REFINDLY + "STANDARD-XML/GetMetadata_table.xml"), "1")
    assert sources(suggestion) == {
        "external_id": "157", "address": "1487", "list_price": "137", "bedrooms": "25", "bathrooms": None,
        "square_feet": "129", "year_built": "314", "status": "246", "description": "214", "photo_urls": None,
    }
    assert suggestion.choices["description"].runner_up.startswith('115 "Internet Remarks"')
    assert suggestion.timestamp_field == "131"
    assert suggestion.unmapped[0] == "bathrooms: no field matches"


def test_a_table_without_listing_fields_maps_nothing() -> None:
    """Homefinder's PropDM table (DM_* fields): nothing maps, and the file says so instead of guessing;
    it cannot be loaded until external_id is chosen."""
    suggestion = suggest(metadata("Homefinder-ruby-rets/get_metadata/success.txt"), "Place", resource="PropDM")
    assert suggestion.choices == {}
    assert "external_id: no field matches" in suggestion.unmapped
    assert "# NOT MAPPED - external_id: no field matches" in suggestion.to_toml()
    with pytest.raises(MappingError, match="no rule for external_id"):
        suggestion.to_mapping()


def test_lookups_needed_are_the_status_and_address_lookups() -> None:
    response = metadata(LIBRETS + "test/raw-metadata")
    fields = [item for item in response.fields() if item.class_name == "ResidentialProperty"]
    assert lookups_needed(fields, [lookup.lookup_name for lookup in response.lookups()]) == {"LISTING_STATUS"}


# --- status values by meaning ---------------------------------------------------------------------


def statuses(values: Sequence[LookupValue]) -> dict[str, str | None]:
    return {value.long_value or value.value: classify_status(value.value, value.long_value, value.short_value).status
            for value in values}


def test_status_lookups_of_every_fixture_are_read_by_meaning() -> None:
    crt = lookups_of(metadata(LIBRETS + "test-network/full-metadata"))["LISTING_STATUS"]
    assert statuses(crt) == {
        "Expired": "expired", "Under Contract": "active_under_contract", "Active": "active", "Off Market": "withdrawn",
        "Temp Off Market": "hold", "Leased": "closed", "Withdrawn": "withdrawn", "Closed": "closed", "Sold": "closed",
        "Pending": "pending"}
    matrix = lookups_of(metadata(REFINDLY + "STANDARD-XML/GetMetadata_lookup.xml"))["Status"]
    assert statuses(matrix) == {
        "A-Active": "active", "C-Continue Show": "active_under_contract", "Incomplete": "incomplete",
        "P-Pending Sale": "pending", "S-Closed/Rented": "closed", "T-Temp Off Market": "hold",
        "U-Under Contract": "active_under_contract", "W-Withdrawn": "withdrawn", "X-Expired": "expired"}
    wildcard = lookups_of(metadata(REFINDLY + "STANDARD-XML/GetMetadata_wildcard.xml"))["Status"]
    assert statuses(wildcard) == {
        "Active": "active", "Incomplete": "incomplete", "Contingent": "active_under_contract", "Leased": "closed",
        "Pending": "pending", "Sold": "closed", "Withdrawn": "withdrawn", "Expired": "expired"}
    ntreis = lookups_of(metadata("josephholsten-rets4r/metadata.xml"))["STAT"]
    assert statuses(ntreis) == {"Active": "active", "Suspended": "hold", "Inactvie": None}  # sic: a typo in the MLS


@pytest.mark.parametrize(
    ("value", "long_value", "short_value", "status", "confidence"),
    [
        ("CS", "Coming Soon", "CSN", "coming_soon", 1.0),
        ("AC", "Active Contingent", "", "active_under_contract", 1.0),
        ("AK", "Active - Kick Out", "", "active_under_contract", 0.8),
        ("PB", "Pending - Taking Backups", "", "active_under_contract", 0.8),
        ("X", "Cancelled", "", "canceled", 1.0),
        ("BOM", "Back On Market", "", "active", 1.0),
        ("A", None, None, "active", 0.5),
        ("UC", "", "", "active_under_contract", 0.5),
        ("Z", "Zoning Review", "ZR", None, 0.0),
    ],
)
def test_status_guess_confidence(value: str, long_value: str | None, short_value: str | None, status: str | None,
                                 confidence: float) -> None:
    guess = classify_status(value, long_value, short_value)
    assert (guess.status, guess.confidence) == (status, confidence)
