"""SearchReader: COMPACT / COMPACT-DECODED / STANDARD-XML bodies, streamed, on both paths."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from retsctl.rets.compact import JsonForm, SearchReader, encode_record, parse_delimiter, split_cells
from retsctl.rets.replies import Reply, RetsProtocolError, RetsReplyAuthError, RetsReplyError
from retsctl.rets.sanitize import RepairCounts
from retsctl.rets.values import decode_values


def compact(*rows: str, columns: str = "\tA\tB\t", head: str = "", tail: str = "", delimiter: str = '<DELIMITER value="09"/>') -> bytes:
    data = "".join(f"<DATA>{row}</DATA>\n" for row in rows)
    return (
        f'<?xml version="1.0"?>\n<RETS ReplyCode="0" ReplyText="Success">\n{head}{delimiter}\n'
        f"<COLUMNS>{columns}</COLUMNS>\n{data}{tail}</RETS>\n"
    ).encode()


def chunked(body: bytes, size: int) -> list[bytes]:
    return [body[start : start + size] for start in range(0, len(body), size)]


def read(body: bytes, *, size: int = 65536, **options: object) -> tuple[SearchReader, list[dict[str, str]]]:
    reader = SearchReader(chunked(body, size), **options)  # type: ignore[arg-type]
    return reader, list(reader)


def outcome(reader: SearchReader, records: list[dict[str, str]]) -> tuple[object, ...]:
    return (records, reader.count, reader.columns, reader.maxrows, reader.reply, reader.rows, reader.repairs.as_dict())


def assert_same_on_both_paths(body: bytes, *, size: int = 65536, **options: object) -> tuple[SearchReader, list[dict[str, str]]]:
    fast = read(body, size=size, **options)
    careful = read(body, size=size, careful=True, **options)
    assert careful[0].used_careful_path or not careful[1]  # an envelope-only reply has no rows to parse
    assert outcome(*fast) == outcome(*careful)
    return fast


# --- delimiters and splitting ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [("09", "\t"), ("9", "\t"), (" 09 ", "\t"), ("7C", "|"), ("7c", "|"), ("2C", ","), ("3B", ";"), (None, "\t")],
)
def test_parse_delimiter(value: str | None, expected: str) -> None:
    assert parse_delimiter(value) == expected


@pytest.mark.parametrize("value", ["", "123", "ZZ", "0x09"])
def test_bad_delimiter_is_a_protocol_error(value: str) -> None:
    with pytest.raises(RetsProtocolError, match="DELIMITER"):
        parse_delimiter(value)


@pytest.mark.parametrize(
    ("text", "cells"),
    [
        ("\ta\tb\t", ["a", "b"]),
        ("a\tb\t", ["a", "b"]),
        ("\ta\tb", ["a", "b"]),
        ("a\tb", ["a", "b"]),
        ("\t\ta\t\t", ["", "a", ""]),
        ("\t\t", [""]),
        ("\t", [""]),
        ("", [""]),
        ("\t \t", [" "]),
    ],
)
def test_split_cells_drops_one_leading_and_one_trailing_delimiter(text: str, cells: list[str]) -> None:
    assert split_cells(text, "\t") == cells


@pytest.mark.parametrize(
    "delimiter_tag",
    ['<DELIMITER value="09"/>', '<DELIMITER value = "09" />', "<DELIMITER value='9'/>", "", '<DELIMITER value="09"></DELIMITER>'],
)
def test_tab_delimiter_spellings(delimiter_tag: str) -> None:
    body = compact("\tx\ty\t", delimiter=delimiter_tag)
    reader, records = assert_same_on_both_paths(body)
    assert reader.delimiter == "\t"
    assert records == [{"A": "x", "B": "y"}]


def test_pipe_delimiter_with_and_without_outer_delimiters() -> None:
    body = compact("|1|2|", "3|4", "|5|6", "7|8|", columns="|A|B|", delimiter='<DELIMITER value="7C"/>')
    _, records = assert_same_on_both_paths(body)
    assert records == [{"A": "1", "B": "2"}, {"A": "3", "B": "4"}, {"A": "5", "B": "6"}, {"A": "7", "B": "8"}]


def test_empty_first_and_last_cells_survive() -> None:
    _, records = assert_same_on_both_paths(compact("\t\t\t", "\t\tlast\t", "\tfirst\t\t"))
    assert records == [{"A": "", "B": ""}, {"A": "", "B": "last"}, {"A": "first", "B": ""}]


def test_wrong_cell_counts_are_padded_or_cut_and_counted() -> None:
    reader, records = assert_same_on_both_paths(compact("\tonly\t", "\t1\t2\t3\t", "\t1\t2\t"))
    assert records == [{"A": "only", "B": ""}, {"A": "1", "B": "2"}, {"A": "1", "B": "2"}]
    assert reader.repairs.cell_count_mismatches == 2
    assert reader.repairs.sample_rows["cell_count_mismatches"] == [1, 2]


# --- envelope ------------------------------------------------------------------------------------------


def test_header_is_available_before_iteration() -> None:
    body = compact("\t1\t2\t", head='<COUNT Records="9057"/>\n')
    reader = SearchReader(chunked(body, 7))
    reader.read_header()
    assert (reader.count, reader.columns, reader.reply, reader.rows) == (9057, ["A", "B"], Reply(0, "Success"), 0)
    assert list(reader) == [{"A": "1", "B": "2"}]
    assert reader.rows == 1
    with pytest.raises(RuntimeError):
        list(reader)


def test_iteration_reads_the_header_lazily() -> None:
    assert list(SearchReader([compact("\t1\t2\t")])) == [{"A": "1", "B": "2"}]


def test_count_only_reply() -> None:
    reader, records = assert_same_on_both_paths(b'<RETS ReplyCode="0" ReplyText="SUCCESS">\n<COUNT Records="1024"/>\n</RETS>\n')
    assert (records, reader.count, reader.columns, reader.maxrows) == ([], 1024, [], False)


def test_maxrows_tag() -> None:
    reader, records = assert_same_on_both_paths(compact("\t1\t2\t", tail="<MAXROWS></MAXROWS>\n"))
    assert reader.maxrows
    assert reader.reply == Reply(0, "Success")
    assert len(records) == 1


def test_rets_status_wins_over_the_opening_reply() -> None:
    body = compact("\t1\t2\t", tail='<MAXROWS/>\n<RETS-STATUS ReplyCode="20208" ReplyText="Maximum Records Exceeded"/>\n')
    reader, _ = assert_same_on_both_paths(body)
    assert reader.reply == Reply(20208, "Maximum Records Exceeded")
    assert reader.maxrows


def test_rets_status_no_records_is_an_empty_result() -> None:
    body = b'<RETS ReplyCode="0" ReplyText="OK"><COUNT Records="0"/><RETS-STATUS ReplyCode="20201" ReplyText="No Records"/></RETS>'
    reader, records = assert_same_on_both_paths(body)
    assert (records, reader.reply, reader.count) == ([], Reply(20201, "No Records"), 0)


def test_failing_rets_status_raises_after_the_rows() -> None:
    body = compact("\t1\t2\t", "\t3\t4\t", tail='<RETS-STATUS ReplyCode="20209" ReplyText="Timeout"/>\n')
    for careful in (False, True):
        reader = SearchReader([body], careful=careful)
        seen = []
        with pytest.raises(RetsReplyError) as caught:
            seen.extend(reader)
        assert seen == [{"A": "1", "B": "2"}, {"A": "3", "B": "4"}]
        assert caught.value.code == 20209


def test_no_records_reply_is_empty_not_an_error() -> None:
    reader, records = read(b'<?xml version="1.0"?>\n<RETS ReplyCode="20201" ReplyText="No Records Found" />\n')
    assert (records, reader.reply, reader.columns, reader.count) == ([], Reply(20201, "No Records Found"), [], None)


def test_opening_maxrows_code_sets_maxrows() -> None:
    body = compact("\t1\t2\t").replace(b'ReplyCode="0"', b'ReplyCode="20208"')
    reader, records = assert_same_on_both_paths(body)
    assert reader.maxrows
    assert records == [{"A": "1", "B": "2"}]


def test_error_reply_raises_from_read_header_with_its_text() -> None:
    body = b"<RETS ReplyCode=\"20203\" ReplyText=\"Class (Z) is not valid\">\nValid Classes are:\n\tA\n\tB\n</RETS>\n"
    reader = SearchReader(chunked(body, 3))
    with pytest.raises(RetsReplyError) as caught:
        reader.read_header()
    error = caught.value
    assert (error.code, error.text, error.transaction) == (20203, "Class (Z) is not valid", "Search")
    assert error.detail == "Valid Classes are:\n\tA\n\tB"


def test_error_reply_attributes_are_lenient_and_unescaped() -> None:
    body = b"<RETS replycode='20207' replytext='No access to &apos;Secret&apos;'/>"
    with pytest.raises(RetsReplyAuthError) as caught:
        read(body)
    assert (caught.value.code, caught.value.text) == (20207, "No access to 'Secret'")


def test_error_opening_reply_wins_even_with_rows() -> None:
    body = compact("\t1\t2\t").replace(b'ReplyCode="0"', b'ReplyCode="20206"')
    with pytest.raises(RetsReplyError) as caught:
        read(body)
    assert caught.value.code == 20206


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<!DOCTYPE html><html><body>Login</body></html>", "HTML page"),
        (b"  <html><head><title>502</title></head></html>", "HTML page"),
        (b"Service Unavailable", "not a RETS reply"),
        (b'<?xml version="1.0"?><Error>nope</Error>', "not a RETS reply"),
        (b"", "empty"),
        (b"  \r\n", "empty"),
    ],
)
def test_non_rets_bodies_are_protocol_errors(body: bytes, message: str) -> None:
    with pytest.raises(RetsProtocolError, match=message):
        SearchReader([body]).read_header()


@pytest.mark.parametrize("careful", [False, True])
def test_truncated_body_yields_complete_rows_then_raises(careful: bool) -> None:
    body = compact("\t1\t2\t", "\t3\t4\t", "\t5\t6\t")
    cut = body.index(b"\t5\t6")
    reader = SearchReader(chunked(body[:cut], 10), careful=careful)
    seen = []
    with pytest.raises(RetsProtocolError, match="truncated"):
        seen.extend(reader)
    assert seen == [{"A": "1", "B": "2"}, {"A": "3", "B": "4"}]


@pytest.mark.parametrize("careful", [False, True])
def test_missing_root_end_tag_is_truncation(careful: bool) -> None:
    body = compact("\t1\t2\t").replace(b"</RETS>\n", b"")
    with pytest.raises(RetsProtocolError, match="truncated"):
        read(body, careful=careful)


def test_truncated_envelope() -> None:
    with pytest.raises(RetsProtocolError, match="truncated"):
        SearchReader([b'<RETS ReplyCode="0" ReplyText="x">\n<COLUMNS>\tA\t']).read_header()


def test_data_without_columns_is_a_protocol_error() -> None:
    with pytest.raises(RetsProtocolError, match="no COLUMNS"):
        read(b'<RETS ReplyCode="0"><DATA>\t1\t</DATA></RETS>')


def test_pretty_printed_body_and_whitespace_inside_data() -> None:
    body = (
        b'<RETS ReplyCode="0" ReplyText="OK">\r\n   <COUNT   Records="2" />\r\n\t<DELIMITER value="09" />\r\n'
        b"  <COLUMNS>\t A \tB\t</COLUMNS>\r\n  <!-- rows -->\r\n  <DATA>\t  padded  \t\t</DATA>\r\n"
        b"  <!-- between --> <DATA>\t1\t2\t</DATA>\r\n  <MAXROWS />\r\n</RETS>\r\n"
    )
    reader, records = assert_same_on_both_paths(body, size=5)
    assert reader.columns == ["A", "B"]
    assert records == [{"A": "  padded  ", "B": ""}, {"A": "1", "B": "2"}]
    assert not reader.used_careful_path
    assert (reader.count, reader.maxrows) == (2, True)


# --- values and repairs ---------------------------------------------------------------------------------


def test_entities_are_decoded_and_line_ends_normalised_like_xml() -> None:
    body = compact("\tKitchen &amp; Bath &lt;3&gt;\tOwner&apos;s &quot;home&quot;&#xD;&#xA;next\t", "\traw\r\nCRLF\tlone\rCR\t")
    reader, records = assert_same_on_both_paths(body)
    assert records == [
        {"A": "Kitchen & Bath <3>", "B": "Owner's \"home\"\r\nnext"},
        {"A": "raw\nCRLF", "B": "lone\nCR"},
    ]
    assert reader.repairs.total == 0


def test_control_characters_are_removed_and_counted() -> None:
    body = compact("\tbell\x07here\tnul\x00\x1f\t", "\tclean\tclean\t")
    reader, records = assert_same_on_both_paths(body)
    assert records == [{"A": "bellhere", "B": "nul"}, {"A": "clean", "B": "clean"}]
    assert reader.repairs.control_chars_removed == 3
    assert reader.repairs.sample_rows == {"control_chars_removed": [1]}


def test_noncharacters_are_removed_and_a_cdata_end_is_plain_text() -> None:
    reader, records = assert_same_on_both_paths(compact("\ta\ufffeb\uffff\tx]]>y\t"))
    assert records == [{"A": "ab", "B": "x]]>y"}]
    assert reader.repairs.control_chars_removed == 2


def test_illegal_and_surrogate_references() -> None:
    body = compact("\tx&#0;y&#x1F;z\t&#xD83D;&#xDE00; &#55357;&#56832; &#xD83D;!\t")
    reader, records = assert_same_on_both_paths(body)
    assert records == [{"A": "xyz", "B": "😀 😀 !"}]
    assert (reader.repairs.char_refs_removed, reader.repairs.surrogate_pairs_joined) == (2, 2)
    assert reader.repairs.lone_surrogates_removed == 1


def test_unescaped_markup_in_data_is_repaired_and_counted() -> None:
    body = compact("\tDatum1\t<Datum&2\t", "\tD>atum5\tAT&T &amp; more\t")
    reader, records = assert_same_on_both_paths(body)
    assert records == [{"A": "Datum1", "B": "<Datum&2"}, {"A": "D>atum5", "B": "AT&T & more"}]
    assert reader.repairs.markup_escaped == 3
    assert reader.repairs.sample_rows == {"markup_escaped": [1, 2]}
    assert not read(body)[0].used_careful_path


def test_invalid_utf8_row_falls_back_to_windows_1252() -> None:
    body = compact("\tCafé\tok\t").replace(b"ok", b"Nu\xf1ez \x93q\x94")
    reader, records = assert_same_on_both_paths(body)
    assert records == [{"A": "Café", "B": "Nuñez \u201cq\u201d"}]
    assert reader.repairs.encoding_fallbacks == 1
    assert reader.encoding == "utf-8"


def test_declared_latin1_body() -> None:
    body = compact("\tNuñez\t€\t", columns="\tNomé\tEuro\t").decode().encode("cp1252")
    body = body.replace(b'<?xml version="1.0"?>', b'<?xml version="1.0" encoding="ISO-8859-1"?>')
    reader, records = assert_same_on_both_paths(body)
    assert reader.encoding == "windows-1252"
    assert records == [{"Nomé": "Nuñez", "Euro": "€"}]
    assert reader.repairs.total == 0


def test_content_type_charset_is_used_without_a_declaration() -> None:
    body = compact("\tNu\xf1ez\t\xe9\t").decode().encode("latin-1")
    reader, records = assert_same_on_both_paths(body, content_type="text/xml; charset=ISO-8859-1")
    assert records == [{"A": "Nuñez", "B": "é"}]
    assert reader.repairs.encoding_fallbacks == 0


def test_utf16_body_with_byte_order_mark() -> None:
    body = compact("\tÑandú\t😀\t").decode().replace('version="1.0"', 'version="1.0" encoding="UTF-16"').encode("utf-16")
    reader, records = assert_same_on_both_paths(body, size=7)
    assert records == [{"A": "Ñandú", "B": "😀"}]
    assert reader.encoding == "utf-8"


def test_cdata_and_comments_inside_data_switch_to_the_careful_path_mid_stream() -> None:
    body = compact(
        "\tfast\t1\t",
        "\t<![CDATA[a < b & c]]>\t<!-- note -->2\t",
        "\tafter\t3 &amp; 4\t",
        tail="<MAXROWS/>\n",
    )
    reader, records = read(body, size=16)
    assert reader.used_careful_path
    assert records == [{"A": "fast", "B": "1"}, {"A": "a < b & c", "B": "2"}, {"A": "after", "B": "3 & 4"}]
    assert (reader.rows, reader.maxrows, reader.repairs.total) == (3, True, 0)
    assert outcome(reader, records) == outcome(*read(body, careful=True))


def test_unknown_tag_between_rows_switches_to_the_careful_path() -> None:
    body = compact("\t1\t2\t", "\t3\t4\t").replace(b"</DATA>\n<DATA>", b"</DATA>\n<X-Vendor a='1'/><DATA>")
    reader, records = read(body)
    assert reader.used_careful_path
    assert records == [{"A": "1", "B": "2"}, {"A": "3", "B": "4"}]


def test_a_stray_end_tag_between_rows_switches_to_the_careful_path() -> None:
    body = compact("\t1\t2\t", "\t3\t4\t").replace(b"</DATA>\n<DATA>", b"</DATA>\n</DATA>\n<DATA>")
    for size in (5, 64, len(body)):
        reader, records = read(body, size=size)
        assert reader.used_careful_path
        assert records[0] == {"A": "1", "B": "2"}
        assert outcome(reader, records) == outcome(*read(body, size=size, careful=True))


def test_clean_rows_beside_dirty_ones_read_the_same_on_both_paths() -> None:
    rows = [f"\tKitchen &amp; Bath &#8217;{n}\tline\r\nend &lt;{n}&gt;\t" for n in range(40)]
    rows[7] = "\tbell\x07\tCaf\xe9 &#8217;&#39;\t"
    body = compact(*rows).replace(b"Caf\xc3\xa9", b"Caf\xe9")  # one control byte, one invalid UTF-8 row
    reader, records = assert_same_on_both_paths(body, size=300)
    assert records[0] == {"A": "Kitchen & Bath \u20190", "B": "line\nend <0>"}
    assert records[7] == {"A": "bell", "B": "Café \u2019'"}
    assert records[39] == {"A": "Kitchen & Bath \u201939", "B": "line\nend <39>"}
    assert (reader.repairs.control_chars_removed, reader.repairs.encoding_fallbacks, reader.repairs.total) == (1, 1, 2)


def test_only_rows_that_need_repairs_take_the_repairing_decoder(monkeypatch: pytest.MonkeyPatch) -> None:
    repaired: list[int] = []
    original = SearchReader._repaired_text

    def spy(self: SearchReader, raw: bytes, row: int, stray_lt: bool, controls: bool) -> str:
        repaired.append(row)
        return original(self, raw, row, stray_lt, controls)

    monkeypatch.setattr(SearchReader, "_repaired_text", spy)
    rows = ["\tA &amp; B &lt;b&gt;\tr\xe9sum\xe9\r\n&#xD;&#xA;\t"] * 6
    rows[2], rows[4] = "\tAT&T\tx\t", "\t1 < 2\ty\t"
    reader, records = read(compact(*rows), size=64)
    assert repaired == [3, 5]
    assert records[0] == {"A": "A & B <b>", "B": "r\xe9sum\xe9\n\r\n"}
    assert (records[2], records[4]) == ({"A": "AT&T", "B": "x"}, {"A": "1 < 2", "B": "y"})
    assert reader.repairs.markup_escaped == 2


def test_records_are_independent_dicts() -> None:
    first, second = read(compact("\t1\t2\t", "\t3\t4\t"))[1]
    first["A"] = "changed"
    assert second == {"A": "3", "B": "4"}
    assert list(second) == ["A", "B"]


def test_repairs_accumulate_across_readers() -> None:
    shared = RepairCounts()
    for _ in range(3):
        list(SearchReader([compact("\ta\x01\tb\t")], repairs=shared))
    assert shared.control_chars_removed == 3


# --- streaming --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [1, 2, 3, 7, 13, 64, 1000])
def test_any_chunking_gives_the_same_records(size: int) -> None:
    body = compact(
        "\tKitchen &amp; Bath\t&#xD83D;&#xDE00;\t",
        "\t<stray & markup\tctl\x02\t",
        "\tCafé\tNu\xf1ez\t".encode("cp1252").decode("latin-1"),
        head='<COUNT Records="3"/>\n',
        tail='<MAXROWS/>\n<RETS-STATUS ReplyCode="0" ReplyText="Done"/>\n',
    )
    assert outcome(*read(body, size=size)) == outcome(*read(body, size=len(body)))
    assert outcome(*read(body, size=size, careful=True)) == outcome(*read(body, size=len(body)))


_CELL = st.lists(
    st.sampled_from(["a", "Z", "é", "😀", " ", "0", "&amp;", "&lt;", "&#xD;&#xA;", "&#65;", "&#0;", "&#xD83D;&#xDE00;",
                     "&#xDE00;", "<", ">", "]]>", "&", "\x01", "\ufffe", "\r\n", "\n", ",", "|"]),
    max_size=6,
).map("".join)


@settings(max_examples=150, deadline=None)
@given(
    rows=st.lists(st.lists(_CELL, min_size=1, max_size=4), max_size=6),
    delimiter=st.sampled_from(["\t", "|", ";"]),
    lead=st.booleans(),
    trail=st.booleans(),
    size=st.integers(min_value=1, max_value=40),
)
def test_both_paths_agree_on_generated_bodies(rows: list[list[str]], delimiter: str, lead: bool, trail: bool, size: int) -> None:
    def line(cells: list[str]) -> str:
        cells = [cell.replace(delimiter, "") for cell in cells]
        return (delimiter if lead else "") + delimiter.join(cells) + (delimiter if trail else "")

    columns = line(["C1", "C2", "C3", "C4"])
    tag = f'<DELIMITER value="{ord(delimiter):02X}"/>'
    body = compact(*(line(cells) for cells in rows), columns=columns, delimiter=tag)
    fast, careful = read(body, size=size), read(body, size=size, careful=True)
    assert outcome(*fast) == outcome(*careful)
    assert fast[0].rows == len(rows)


_JSON_CELL = st.lists(
    st.sampled_from(["a", "é", "😀", "\u2028", "\x7f", '"', "\\", "&quot;", "&amp;", "&lt;", "&#9;", "&#10;", "&#xD;",
                     "&#8217;", "\r\n", "\n", "&", "\x01", "&#0;", "<", "/", "\\u0041"]),
    max_size=6,
).map("".join)


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(st.lists(_JSON_CELL, min_size=1, max_size=4), max_size=6),
    delimiter=st.sampled_from(["\t", "|", ";", "\n"]),
    columns=st.sampled_from([["C1", "C2", "C3", "C4"], ["A", 'Quote"d', "Back\\slash", "Ünï"], ["K", "K", "V", "W"]]),
    size=st.integers(min_value=1, max_value=40),
    ends=st.sampled_from([(True, True), (True, False), (False, True), (False, False)]),
    picked=st.lists(st.integers(min_value=0, max_value=4), max_size=3),
)
def test_json_lines_are_the_encoded_records(rows: list[list[str]], delimiter: str, columns: list[str], size: int,
                                            ends: tuple[bool, bool], picked: list[int]) -> None:
    """Byte for byte what orjson makes of each record, with the same repairs counted; the same for
    escaped values with any fields picked (4: one the rows lack), either delimiter at a row's ends
    optional."""
    lead, trail = (delimiter if end else "" for end in ends)

    def line(cells: list[str]) -> str:
        return lead + delimiter.join(cell.replace(delimiter, "") for cell in cells) + trail

    tag = f'<DELIMITER value="{ord(delimiter):02X}"/>'
    body = compact(*(line(cells) for cells in rows), columns=line(columns).replace("&", "&amp;").replace('"', "&quot;"),
                   delimiter=tag)
    reader, records = read(body, size=size)
    as_lines = SearchReader(chunked(body, size))
    assert list(as_lines.json_lines()) == [encode_record(record) for record in records]
    assert (as_lines.rows, as_lines.repairs.as_dict()) == (reader.rows, reader.repairs.as_dict())
    fields = tuple([*columns, "Missing"][index] for index in picked)
    with_values = SearchReader(chunked(body, size))
    assert list(with_values.json_values_with(fields)) == [JsonForm(fields).of_record(record) for record in records]
    assert with_values.repairs.as_dict() == reader.repairs.as_dict()


@pytest.mark.parametrize("delimiter", ["0A", "0D"])
def test_json_lines_of_a_control_character_delimiter_split_as_records_do(delimiter: str) -> None:
    """An escaped LF or CR could hide a split: such delimiters take the record path."""
    cut = chr(int(delimiter, 16))
    body = compact(f"{cut}x{cut}y{cut}", "&#13;z", columns=f"{cut}A{cut}", delimiter=f'<DELIMITER value="{delimiter}"/>')
    reader, records = read(body)
    as_lines = SearchReader([body])
    assert list(as_lines.json_lines()) == [encode_record(record) for record in records]
    assert as_lines.repairs.as_dict() == reader.repairs.as_dict()


def test_plain_rows_become_json_lines_without_a_record(monkeypatch: pytest.MonkeyPatch) -> None:
    """The line of a plain row is built from its bytes, escapes included, never through a dict."""
    monkeypatch.setattr(SearchReader, "_record", lambda *_: pytest.fail("a plain row went through a dict"))
    body = compact('\tSay "hi" \\ bye&#10;\t3 &lt; 4 \u2019\t')
    assert list(SearchReader([body]).json_lines()) == ['{"A":"Say \\"hi\\" \\\\ bye\\n","B":"3 < 4 \u2019"}\n'.encode()]
    [(columns, escaped, values)] = SearchReader([body]).json_values_with(["B", "A", "C"])
    assert (columns, values) == (("A", "B"), {"B": "3 < 4 \u2019", "A": 'Say "hi" \\ bye\n'})
    assert escaped == 'Say \\"hi\\" \\\\ bye\\n\t3 < 4 \u2019'.encode()
    assert decode_values(escaped.decode()) == ['Say "hi" \\ bye\n', "3 < 4 \u2019"]


def _generated_body(rows: int) -> Iterator[bytes]:
    """A body of ``rows`` rows (~520 bytes each) produced on the fly in 64 KiB chunks."""
    pending = b'<RETS ReplyCode="0" ReplyText="OK">\n<COLUMNS>\tKey\tRemarks\t</COLUMNS>\n'
    remark = b"Lovely home &amp; garden " * 20
    for row in range(rows):
        pending += b"<DATA>\t%d\t%s\t</DATA>\n" % (row, remark)
        if len(pending) >= 65536:
            yield pending[:65536]
            pending = pending[65536:]
    yield pending + b"</RETS>\n"


@pytest.mark.parametrize("careful", [False, True])
def test_memory_stays_flat_on_a_large_body(careful: bool) -> None:
    rows = 8_000 if not careful else 4_000  # ~4 MB / ~2 MB of body
    tracemalloc.start()
    try:
        reader = SearchReader(_generated_body(rows), careful=careful)
        last = {}
        for last in reader:  # noqa: B007 - only the last one is kept
            pass
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert reader.rows == rows
    assert last["Key"] == str(rows - 1)
    assert last["Remarks"] == "Lovely home & garden " * 20
    assert peak < 1_000_000  # about one chunk plus a row or two


# --- STANDARD-XML -------------------------------------------------------------------------------------------

STANDARD_XML = b"""<?xml version="1.0" encoding="utf-8"?>
<RETS ReplyCode="0" ReplyText="Operation successful.">
  <COUNT Records="2" />
  <REData>
    <REProperties>
      <ResidentialProperty ID="A1">
        <Listing>
          <ListingID>one</ListingID>
          <StreetAddress><StreetName>Main &amp; 1st</StreetName><PostalCode/></StreetAddress>
        </Listing>
        <Phones><Phone Type="cell">555-1</Phone><Phone Type="fax">555-2</Phone><!-- x --></Phones>
        <Remarks><![CDATA[<b>bold</b> & more]]></Remarks>
      </ResidentialProperty>
      <ResidentialProperty ID="A2"><Listing><ListingID>two</ListingID></Listing></ResidentialProperty>
    </REProperties>
  </REData>
  <MAXROWS/>
</RETS>
"""


@pytest.mark.parametrize("size", [9, 65536])
def test_standard_xml_records_are_flattened(size: int) -> None:
    reader, records = read(STANDARD_XML, size=size, format="STANDARD-XML")
    assert records == [
        {
            "@ID": "A1",
            "Listing/ListingID": "one",
            "Listing/StreetAddress/StreetName": "Main & 1st",
            "Listing/StreetAddress/PostalCode": "",
            "Phones/Phone@Type": "cell",
            "Phones/Phone": "555-1",
            "Phones/Phone[2]@Type": "fax",
            "Phones/Phone[2]": "555-2",
            "Remarks": "<b>bold</b> & more",
        },
        {"@ID": "A2", "Listing/ListingID": "two"},
    ]
    assert (reader.count, reader.maxrows, reader.rows, reader.columns) == (2, True, 2, [])


def test_standard_xml_is_detected_without_the_format_hint() -> None:
    reader, records = read(STANDARD_XML, format="COMPACT")
    assert reader.used_careful_path
    assert [record["Listing/ListingID"] for record in records] == ["one", "two"]


def test_standard_xml_namespaces_and_vendor_wrappers() -> None:
    body = (
        b'<RETS ReplyCode="0" ReplyText="ok"><COUNT Records="1"></COUNT>'
        b'<RETS-RESPONSE xmlns="urn:vendor"><Pagination><TotalRecords>1</TotalRecords></Pagination>'
        b'<PropertyDetails ID="7"><ListingID>30707930</ListingID><Price>1</Price></PropertyDetails>'
        b"</RETS-RESPONSE></RETS>"
    )
    reader, records = read(body, format="STANDARD-XML")
    assert records == [{"@ID": "7", "ListingID": "30707930", "Price": "1"}]
    assert reader.count == 1


def test_standard_xml_records_directly_under_rets() -> None:
    body = b'<RETS ReplyCode="0"><Listing><Key>1</Key></Listing><Listing><Key>2</Key></Listing></RETS>'
    assert read(body, format="STANDARD-XML")[1] == [{"Key": "1"}, {"Key": "2"}]
