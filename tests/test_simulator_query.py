"""compile_query: DMQL2 semantics over small hand-made COMPACT records, per operator and type."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest

from retsctl.rets.dmql import DmqlSyntaxError, DmqlValidationError, FieldType
from retsctl.simulator.query import compile_query, parse_offset

FIELDS = {
    "ListingKey": FieldType("Character"),
    "ListPrice": FieldType("Decimal", "Currency"),
    "Beds": FieldType("Int"),
    "City": FieldType("Character"),
    "Pool": FieldType("Boolean"),
    "ListDate": FieldType("Date"),
    "ModificationTimestamp": FieldType("DateTime"),
    "OpenTime": FieldType("Time"),
    "ListingStatus": FieldType("Character", "Lookup", frozenset({"A", "P", "S", "X"})),
    "Features": FieldType("Character", "LookupMulti", frozenset({"POOL", "DOCK", "WTRFRNT"})),
}

RECORDS = [
    {
        "ListingKey": "1",
        "ListPrice": "250000",
        "Beds": "2",
        "City": "Acton",
        "Pool": "0",
        "ListDate": "2024-04-30",
        "ModificationTimestamp": "2024-05-01T12:34:56Z",
        "OpenTime": "09:00:00",
        "ListingStatus": "A",
        "Features": "POOL,DOCK",
    },
    {
        "ListingKey": "2",
        "ListPrice": "300000.00",
        "Beds": "3",
        "City": "BOXBOROUGH",
        "Pool": "1",
        "ListDate": "2024-05-01",
        "ModificationTimestamp": "2024-05-01T23:30:00.250Z",
        "OpenTime": "13:30:00",
        "ListingStatus": "P",
        "Features": "DOCK",
    },
    {
        "ListingKey": "3",
        "ListPrice": "",
        "Beds": "n/a",
        "City": "St. Louis",
        "Pool": "1",
        "ListDate": "",
        "ModificationTimestamp": "2024-05-01T01:30:00+02:00",
        "OpenTime": "",
        "ListingStatus": "",
        "Features": "",
    },
    {
        "ListingKey": "4",
        "ListPrice": "1200000",
        "Beds": "5",
        "City": "Rivers*ide",
        "Pool": "0",
        "ListDate": "2024-06-15",
        "ModificationTimestamp": "2024-05-01T08:00:00",
        "OpenTime": "17:00:00.5",
        "ListingStatus": "S",
        "Features": "WTRFRNT, POOL",
    },
    {"ListingKey": "A-7", "City": "acton", "ListingStatus": "X", "ModificationTimestamp": "garbled"},
]

NOW = datetime(2024, 5, 1, 22, 0, tzinfo=UTC)


def matching(query: str, records: list[dict[str, str]] = RECORDS, **options: object) -> list[str]:
    predicate = compile_query(query, FIELDS, now=NOW, **options)  # type: ignore[arg-type]
    return [record["ListingKey"] for record in records if predicate(record)]


@pytest.mark.parametrize(
    ("query", "keys"),
    [
        ("(ListPrice=300000)", ["2"]),
        ("(ListPrice=300000.0)", ["2"]),
        ("(ListPrice=300000+)", ["2", "4"]),
        ("(ListPrice=300000-)", ["1", "2"]),
        ("(ListPrice=250000-300000)", ["1", "2"]),
        ("(ListPrice=250000.01-299999.99)", []),
        ("(Beds=2,5)", ["1", "4"]),
        ("(Beds=2-3,5+)", ["1", "2", "4"]),
        ("(Beds=|3,5)", ["2", "4"]),
        ("(Beds=-1-2)", ["1"]),
    ],
)
def test_numbers_compare_as_decimals_and_skip_unreadable_values(query: str, keys: list[str]) -> None:
    assert matching(query) == keys


@pytest.mark.parametrize(
    ("query", "keys"),
    [
        ("(ListDate=2024-05-01)", ["2"]),
        ("(ListDate=2024-05-01+)", ["2", "4"]),
        ("(ListDate=2024-05-01-)", ["1", "2"]),
        ("(ListDate=2024-04-01-2024-05-31)", ["1", "2"]),
        ("(ListDate=2024-04-30,2024-06-15)", ["1", "4"]),
        ("(ListDate=TODAY)", ["2"]),
        ("(ListDate=TODAY+)", ["2", "4"]),
    ],
)
def test_dates_compare_as_dates(query: str, keys: list[str]) -> None:
    assert matching(query) == keys


@pytest.mark.parametrize(
    ("query", "tz", "keys"),
    [
        # Record 3 is 2024-04-30T23:30Z; record 4 has no offset, so it is in the server's zone.
        ("(ModificationTimestamp=2024-05-01T12:34:56Z)", "Z", ["1"]),
        ("(ModificationTimestamp=2024-05-01T12:34:56Z+)", "Z", ["1", "2"]),
        ("(ModificationTimestamp=2024-05-01T08:34:56-04:00+)", "Z", ["1", "2"]),
        ("(ModificationTimestamp=2024-05-01T12:34:56Z-)", "Z", ["1", "3", "4"]),
        ("(ModificationTimestamp=2024-05-01T23:30:00Z-)", "Z", ["1", "3", "4"]),
        ("(ModificationTimestamp=2024-05-01T23:30:00.25Z-)", "Z", ["1", "2", "3", "4"]),
        ("(ModificationTimestamp=2024-05-01T08:00:00Z)", "Z", ["4"]),
        ("(ModificationTimestamp=2024-05-01T08:00:00Z)", "-05:00", []),
        ("(ModificationTimestamp=2024-05-01T13:00:00Z)", "-05:00", ["4"]),
        ("(ModificationTimestamp=2024-05-01T08:00:00)", "-05:00", ["4"]),
        ("(ModificationTimestamp=2024-05-01T12:34:56)", "+02:00", []),
        ("(ModificationTimestamp=2024-05-01T14:34:56)", "+02:00", ["1"]),
        ("(ModificationTimestamp=2024-05-01)", "Z", ["1", "2", "4"]),
        ("(ModificationTimestamp=2024-05-01)", "+02:00", ["1", "3", "4"]),
        ("(ModificationTimestamp=2024-04-30-)", "Z", ["3"]),
        ("(ModificationTimestamp=2024-05-01+)", "Z", ["1", "2", "4"]),
        ("(ModificationTimestamp=NOW-)", "Z", ["1", "3", "4"]),
        ("(ModificationTimestamp=NOW+)", "Z", ["2"]),
        ("(ModificationTimestamp=TODAY)", "Z", ["1", "2", "4"]),
        ("(ModificationTimestamp=2024-05-01T00:00:00Z-2024-05-01T12:34:56Z)", "Z", ["1", "4"]),
    ],
)
def test_datetimes_compare_as_aware_moments(query: str, tz: str, keys: list[str]) -> None:
    assert matching(query, tz_offset=tz) == keys


def test_today_is_the_date_in_the_server_zone() -> None:
    # 22:00Z on May 1st is already May 2nd at +05:00.
    assert matching("(ListDate=TODAY)", tz_offset="+05:00") == []
    assert matching("(ListDate=TODAY-)", tz_offset="+05:00") == ["1", "2"]
    assert matching("(ListDate=TODAY-)", tz_offset="-05:00") == ["1", "2"]


def test_now_defaults_to_the_time_of_compilation() -> None:
    recent = (datetime.now(UTC) - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    records = [
        {"ListingKey": "old", "ModificationTimestamp": "2001-01-01T00:00:00Z"},
        {"ListingKey": "new", "ModificationTimestamp": recent},
    ]
    predicate = compile_query("(ModificationTimestamp=NOW-)", FIELDS)
    assert [r["ListingKey"] for r in records if predicate(r)] == ["old", "new"]
    predicate = compile_query(f"(ModificationTimestamp={recent}+)", FIELDS)
    assert [r["ListingKey"] for r in records if predicate(r)] == ["new"]


@pytest.mark.parametrize(
    ("query", "keys"),
    [
        ("(OpenTime=13:30:00)", ["2"]),
        ("(OpenTime=12:00:00+)", ["2", "4"]),
        ("(OpenTime=17:00:00-)", ["1", "2"]),
        ("(OpenTime=09:00:00-17:00:00.5)", ["1", "2", "4"]),
    ],
)
def test_times_compare_as_times(query: str, keys: list[str]) -> None:
    assert matching(query) == keys


@pytest.mark.parametrize(
    ("query", "keys"),
    [
        ("(City=ACTON)", ["1", "A-7"]),
        ("(City=acton,boxborough)", ["1", "2", "A-7"]),
        ("(City=BOX*)", ["2"]),
        ("(City=*o*)", ["1", "2", "3", "A-7"]),
        ("(City=ac?on)", ["1", "A-7"]),
        ("(City=a?on)", []),
        ('(City="st. louis")', ["3"]),
        ('(City="Rivers*ide")', ["4"]),
        ('(City="River*")', []),
        ("(City=River*)", ["4"]),
        ('(City=BOX*,"St. Louis")', ["2", "3"]),
        ("(ListingKey=1)", ["1"]),
        ('(ListingKey=|1,3,"A-7")', ["1", "3", "A-7"]),
        ("(Pool=1)", ["2", "3"]),
    ],
)
def test_character_equality_ignores_case_and_honours_wildcards(query: str, keys: list[str]) -> None:
    assert matching(query) == keys


@pytest.mark.parametrize(
    ("query", "keys"),
    [
        ("(ListingStatus=|A,P)", ["1", "2"]),
        ("(ListingStatus=A)", ["1"]),
        ("(ListingStatus=A,S)", ["1", "4"]),
        ("(ListingStatus=~A,P)", ["3", "4", "A-7"]),
        ("(ListingStatus=+A)", ["1"]),
        ("(ListingStatus=+A,P)", []),
        ("(ListingStatus=.ANY.)", ["1", "2", "4", "A-7"]),
        ("(ListingStatus=.EMPTY.)", ["3"]),
        ("(Features=|POOL)", ["1", "4"]),
        ("(Features=POOL)", ["1", "4"]),
        ("(Features=|WTRFRNT,DOCK)", ["1", "2", "4"]),
        ("(Features=+POOL,DOCK)", ["1"]),
        ("(Features=+POOL)", ["1", "4"]),
        ("(Features=~POOL)", ["2", "3", "A-7"]),
        ("(Features=~POOL,DOCK)", ["3", "A-7"]),
        ("(Features=.ANY.)", ["1", "2", "4"]),
        ("(Features=.EMPTY.)", ["3", "A-7"]),
    ],
)
def test_lookups_and_lookup_multi(query: str, keys: list[str]) -> None:
    assert matching(query) == keys


@pytest.mark.parametrize(
    ("query", "keys"),
    [
        ("(ListPrice=.EMPTY.)", ["3", "A-7"]),
        ("(OpenTime=.EMPTY.)", ["3", "A-7"]),
        ("(City=.EMPTY.)", []),
    ],
)
def test_empty_on_any_type(query: str, keys: list[str]) -> None:
    assert matching(query) == keys


@pytest.mark.parametrize(
    ("query", "keys"),
    [
        ("(ListPrice=300000+),(ListingStatus=|A,P)", ["2"]),
        ("(ListPrice=300000+)|(ListingStatus=|A,P)", ["1", "2", "4"]),
        ("~(ListPrice=300000+)", ["1", "3", "A-7"]),
        ("NOT (City=acton) AND (ListingStatus=|A,P,S,X)", ["2", "4"]),
        ("((City=acton)|(City=BOX*)),~(Features=DOCK)", ["A-7"]),
        ("~((City=acton)|(Beds=3)),(Pool=1)", ["3"]),
        ("(Beds=2)|(Beds=3)|(Beds=5)", ["1", "2", "4"]),
        ("(Pool=1),(Beds=3),(ListingStatus=P)", ["2"]),
    ],
)
def test_boolean_combinations(query: str, keys: list[str]) -> None:
    assert matching(query) == keys


def test_errors_carry_the_reply_code_a_server_answers() -> None:
    with pytest.raises(DmqlSyntaxError) as syntax:
        compile_query("(ListPrice=300000", FIELDS)
    assert (syntax.value.server_reply_code, syntax.value.position) == (20206, 17)
    with pytest.raises(DmqlValidationError) as unknown:
        compile_query("(City=X),(Colour=RED)", FIELDS)
    assert (unknown.value.server_reply_code, unknown.value.position) == (20200, 10)
    with pytest.raises(DmqlValidationError) as bad_code:
        compile_query("(ListingStatus=|A,Q)", FIELDS)
    assert (bad_code.value.server_reply_code, bad_code.value.position) == (20206, 18)


def test_offsets_and_now_must_be_well_formed() -> None:
    assert parse_offset("Z") is UTC
    assert parse_offset("-05:00") == timezone(-timedelta(hours=5))
    assert parse_offset("+0530") == timezone(timedelta(hours=5, minutes=30))
    with pytest.raises(ValueError, match="offset"):
        parse_offset("EST")
    with pytest.raises(ValueError, match="timezone-aware"):
        compile_query("(City=X)", FIELDS, now=datetime(2024, 5, 1))


def test_a_simple_criterion_costs_well_under_two_microseconds_per_record() -> None:
    records = [
        {
            "ListPrice": str(100_000 + n * 7),
            "ListingStatus": "APSX"[n % 4],
            "ModificationTimestamp": f"2024-05-01T{n % 24:02d}:{n % 60:02d}:00Z",
        }
        for n in range(20_000)
    ]
    for query in ("(ListPrice=300000+)", "(ListingStatus=|A,P)", "(ModificationTimestamp=2024-05-01T12:00:00Z+)"):
        predicate = compile_query(query, FIELDS)
        best = min(_seconds(lambda p=predicate: sum(map(p, records))) for _ in range(3))
        assert best / len(records) < 2e-6, query
    assert sum(map(compile_query("(ListingStatus=|A,P)", FIELDS), records)) == 10_000


def _seconds(work: Callable[[], object]) -> float:
    """CPU seconds, so a busy machine does not make the test flaky."""
    started = time.process_time()
    work()
    return time.process_time() - started
