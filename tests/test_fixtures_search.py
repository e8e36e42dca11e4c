"""Every captured Search response in shared/fixtures/rets, read by SearchReader on both paths."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from fixture_files import FIXTURES, MANIFEST, load_fixture

from retsctl.rets.compact import JsonForm, SearchReader, encode_record
from retsctl.rets.replies import RetsReplyError

FLEX_GET = "troydavisson-PHRETS/get/retsgw.flexmls.com/rets2_1_Search/"
FLEX_POST = "troydavisson-PHRETS/post/retsgw.flexmls.com/rets2_1_Search/"
LIBRETS = "NationalAssociationOfRealtors-libRETS/"
REFINDLY = "refindlyllc-rets/"


@dataclass(frozen=True)
class Expected:
    rows: int
    columns: int
    count: int | None
    first: tuple[str, str]  # a column of the first record and its value
    maxrows: bool = False
    code: int = 0
    repairs: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class Failure:
    code: int
    text: str
    detail: str = ""


LIST_1 = "LIST_1"
CASES: dict[str, Expected | Failure] = {
    FLEX_GET + "1aa3b4454404b11492369cc3f2b95e8f.txt": Expected(15, 1, 40, (LIST_1, "20140904164308260560000000"), True),
    FLEX_GET + "5836410b43446216e8b33c787d798441.txt": Expected(15, 1, None, (LIST_1, "20140904164308260560000000"), True),
    FLEX_GET + "71fb8c90d106cf1f88c5687044918787.txt": Expected(10, 1, 40, (LIST_1, "20051213200954781919000000")),
    FLEX_GET + "7580aa7ffcd519406def9899f7efbb41.txt": Expected(3, 2, 9057, ("LIST_105", "12-5"), True),
    FLEX_GET + "772dbb6548885978fd7b656175e0b817.txt": Expected(3, 9, 9057, ("LIST_15", "Expired"), True),
    FLEX_GET + "77bebac441fa391975e56cb720f2d7e7.txt": Expected(15, 1, 40, (LIST_1, "20140904164308260560000000"), True),
    FLEX_GET + "90471d12722b9f16e7568920b861cf1f.txt": Expected(15, 1, 40, (LIST_1, "20140904164308260560000000"), True),
    FLEX_GET + "c0296526b8e1e8954a8001dbb85b01ea.txt": Expected(15, 1, 40, (LIST_1, "20070525160359010580000000"), True),
    FLEX_GET + "e9f250f06854ab0e94b017681e91c7bd.txt": Expected(15, 1, None, (LIST_1, "20070525160359010580000000"), True),
    FLEX_GET + "f065035031b4ce43d3e5374517306e20.txt": Failure(
        20203,
        "RETS Server: Specified Class (Z) is not valid. See: https://www.flexmls.com/rets/e/19",
        "Valid Classes are:\n\tA\n\tB\n\tC\n\tE\n\tF\n\tG\n\tH\n\tI",
    ),
    FLEX_GET + "f07c8bc25411e40b67847cef66883ab5.txt": Expected(15, 1, 40, (LIST_1, "20140904164308260560000000"), True),
    FLEX_GET + "f32d4206aad8af73adadb03e5b066e0e.txt": Expected(10, 1, None, (LIST_1, "20051213200954781919000000")),
    FLEX_POST + "1a8858c3dc1b01aff879cb7fcb2ca735.txt": Expected(1, 1, 9092, (LIST_1, "20120120214646918405000000"), True),
    FLEX_POST + "49cf00533b92c63d4bd49e662ce6373f.txt": Expected(1, 1, 1763, (LIST_1, "20060610132245629878000000"), True),
    FLEX_POST + "a269afc17b7b356d4f9179dd107e14a7.txt": Expected(1, 1, 9092, (LIST_1, "20120120214646918405000000"), True),
    REFINDLY + "COMPACT-DECODED/Search.xml": Expected(3, 208, None, ("MLSNumber", "213005147")),
    REFINDLY + "COMPACT-DECODED/Search_1of2.xml": Expected(3, 208, 6, ("City", "NAPLES"), True),
    REFINDLY + "COMPACT-DECODED/Search_2of2.xml": Expected(3, 208, 6, ("Acres", "0.0000")),
    REFINDLY + "CREA-STANDARD-XML/Search.xml": Expected(1, 0, 1, ("ListingID", "30707930")),
    LIBRETS + "test/search-response.xml": Expected(2, 4, 2, ("ListingID", "LN000005"), True, 20208),
    LIBRETS + "test/search-response-no-count.xml": Expected(2, 4, None, ("City", "Chicago")),
    LIBRETS + "test/search-response-no-final-tab.xml": Expected(2, 4, 2, ("ListDate", "2004-07-04")),
    LIBRETS + "test/search-response-no-leading-tab.xml": Expected(2, 4, 2, ("ListingID", "LN000005")),
    LIBRETS + "test/search-response-pipe.xml": Expected(1, 1, None, ("CITY", "AURORA")),
    # The byte pair is Mac Roman for "úñ"; a Windows-1252 fallback is the best a reader can do blind.
    LIBRETS + "test/search-response-extended-char.xml": Expected(
        1, 3, 1, ("LastName", "Nœ–ez"), repairs=(("encoding_fallbacks", 1),)
    ),
    LIBRETS + "test/search-response-extended-utf8.xml": Expected(1, 3, 1, ("LastName", "Núñez")),
    LIBRETS + "test/search-response-no-records.xml": Expected(0, 0, None, ("", ""), code=20201),
    LIBRETS + "test/search-response-error-extended.xml": Failure(
        20205, "Invalid Query Syntax", "You can't do that, so try better next time."
    ),
    LIBRETS + "test/search-response-single-column.xml": Expected(3, 1, 3, ("ListingID", "LN000005")),
    LIBRETS + "test/raw-search": Expected(160, 4, 160, ("ListingID", "LN000000")),
    LIBRETS + "test-network/search.1": Expected(160, 4, 160, ("Beds", "3")),
    LIBRETS + "test-network/search.3": Expected(1, 1, 42, ("City", "Zanesville"), True, 20208),
    "5150brien-retsdk/bad_request.xml": Failure(20206, "DMQL: Invalid MultiLookup criteria for field 'TotalGuitars'."),
    "5150brien-retsdk/search_response.xml": Expected(10, 1, 2936, ("sysid", "30000001")),
    "5150brien-retsdk/search_response_maxrows.xml": Expected(10, 1, 2936, ("sysid", "30000001"), True),
    "Homefinder-ruby-rets/search/success.txt": Expected(2, 5, 2, ("STREET_NAME", "BAR STEET")),
    "josephholsten-rets4r/bad_compact.xml": Expected(1, 79, 38610, ("MLSNUM", "11322886"), True),
    "josephholsten-rets4r/search_unescaped_compact.xml": Expected(
        2, 3, 4, ("Second", "<Datum&2"), True, repairs=(("markup_escaped", 2),)
    ),
    "josephholsten-rets4r/count_only_compact.xml": Expected(0, 0, 1024, ("", "")),
}


def test_every_search_fixture_of_the_manifest_is_covered() -> None:
    manifest = (FIXTURES / MANIFEST).read_text("utf-8")
    search_files = {
        line.split("|")[1].strip().strip("`")
        for line in manifest.splitlines()
        if line.startswith("| `") and line.split("|")[3].strip().startswith("Search")
    }
    assert len(search_files) == 39
    assert search_files == set(CASES)


def _read(relpath: str, *, careful: bool, size: int) -> SearchReader:
    fixture = load_fixture(relpath)
    body = fixture.body
    format = "STANDARD-XML" if "STANDARD-XML" in relpath else "COMPACT-DECODED"
    return SearchReader(
        [body[start : start + size] for start in range(0, len(body), size)],
        format=format,
        content_type=fixture.content_type or None,
        careful=careful,
    )


@pytest.mark.parametrize("relpath", sorted(CASES), ids=lambda relpath: relpath.rsplit("/", 2)[-1][:24])
@pytest.mark.parametrize("careful", [False, True], ids=["fast", "careful"])
def test_search_fixture(relpath: str, careful: bool) -> None:
    expected = CASES[relpath]
    reader = _read(relpath, careful=careful, size=17)
    if isinstance(expected, Failure):
        with pytest.raises(RetsReplyError) as caught:
            list(reader)
        assert (caught.value.code, caught.value.text, caught.value.detail) == (expected.code, expected.text, expected.detail)
        assert caught.value.transaction == "Search"
        return
    records = list(reader)
    assert len(records) == reader.rows == expected.rows
    assert len(reader.columns) == expected.columns
    assert reader.count == expected.count
    assert reader.maxrows is expected.maxrows
    assert reader.reply is not None and reader.reply.code == expected.code
    if expected.rows:
        column, value = expected.first
        assert records[0][column] == value
        if reader.columns:
            assert all(list(record) == reader.columns for record in records)
    repairs = {kind: amount for kind, amount in reader.repairs.as_dict().items() if amount}
    assert repairs == dict(expected.repairs)


@pytest.mark.parametrize("relpath", sorted(relpath for relpath, case in CASES.items() if isinstance(case, Expected)))
def test_both_paths_agree_on_fixture(relpath: str) -> None:
    fast, careful = _read(relpath, careful=False, size=65536), _read(relpath, careful=True, size=65536)
    assert list(fast) == list(careful)
    assert (fast.count, fast.columns, fast.maxrows, fast.reply) == (careful.count, careful.columns, careful.maxrows, careful.reply)


@pytest.mark.parametrize("relpath", sorted(relpath for relpath, case in CASES.items() if isinstance(case, Expected)))
def test_json_lines_are_the_encoded_records_of_every_fixture(relpath: str) -> None:
    as_records, as_lines = _read(relpath, careful=False, size=4096), _read(relpath, careful=False, size=4096)
    assert list(as_lines.json_lines()) == [encode_record(record) for record in as_records]
    assert (as_lines.rows, as_lines.repairs.as_dict()) == (as_records.rows, as_records.repairs.as_dict())
    fields = (*as_records.columns[-2:], "NotAField")
    records = list(_read(relpath, careful=False, size=4096))
    with_values = list(_read(relpath, careful=False, size=4096).json_values_with(fields))
    assert with_values == [JsonForm(fields).of_record(record) for record in records]

