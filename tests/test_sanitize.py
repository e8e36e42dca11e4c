"""The repairs in retsctl.rets.sanitize: each one exact and counted."""

from __future__ import annotations

import codecs

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from lxml import etree

from retsctl.rets.sanitize import (
    SAMPLE_ROWS,
    WINDOWS_1252,
    RepairCounts,
    TextDecoder,
    XmlRepairStream,
    count_stray_lt,
    declared_xml_encoding,
    escape_data_markup,
    escape_text,
    has_control_bytes,
    has_utf8_noncharacters,
    remove_control_bytes,
    resolve_encoding,
    unescape_text,
    unescape_utf8,
    utf8_chunks,
)

ILLEGAL_CONTROL_BYTES = [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20)]


# --- RepairCounts ---------------------------------------------------------------------------------


def test_repair_counts_note_add_and_samples() -> None:
    first = RepairCounts()
    first.note("control_chars_removed", 3, row=7)
    first.note("control_chars_removed", 1, row=7)
    first.note("markup_escaped", 2)
    second = RepairCounts(encoding_fallbacks=4)
    second.note("control_chars_removed", 1, row=9)

    first.add(second)

    assert first.control_chars_removed == 5
    assert first.encoding_fallbacks == 4
    assert first.markup_escaped == 2
    assert first.sample_rows == {"control_chars_removed": [7, 9]}
    assert first.total == 11
    assert first.as_dict() == {
        "control_chars_removed": 5,
        "char_refs_removed": 0,
        "surrogate_pairs_joined": 0,
        "lone_surrogates_removed": 0,
        "encoding_fallbacks": 4,
        "markup_escaped": 2,
        "cell_count_mismatches": 0,
    }


def test_sample_rows_are_capped() -> None:
    counts = RepairCounts()
    for row in range(1, 20):
        counts.note("char_refs_removed", 1, row)
    other = RepairCounts()
    other.note("char_refs_removed", 1, row=99)
    counts.add(other)
    assert counts.char_refs_removed == 20
    assert counts.sample_rows["char_refs_removed"] == list(range(1, SAMPLE_ROWS + 1))


# --- control bytes ------------------------------------------------------------------------------------


@pytest.mark.parametrize("byte", ILLEGAL_CONTROL_BYTES)
def test_each_illegal_control_byte_is_removed_and_counted(byte: int) -> None:
    repairs = RepairCounts()
    data = b"a" + bytes([byte]) + b"b" + bytes([byte])
    assert has_control_bytes(data)
    assert remove_control_bytes(data, repairs, row=3) == b"ab"
    assert repairs.control_chars_removed == 2
    assert repairs.sample_rows == {"control_chars_removed": [3]}


def test_tab_newline_and_carriage_return_are_legal() -> None:
    repairs = RepairCounts()
    data = "\tá\r\n\x7f\u0085".encode()
    assert not has_control_bytes(data)
    assert remove_control_bytes(data, repairs) == data
    assert repairs.total == 0


# --- encodings --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b'<?xml version="1.0" encoding="ISO-8859-1"?><RETS/>', "ISO-8859-1"),
        (b"  <?xml version='1.0' encoding = 'utf-8' ?>", "utf-8"),
        (b'<?xml version="1.0"?><RETS/>', None),
        (b"<RETS/>", None),
    ],
)
def test_declared_xml_encoding(head: bytes, expected: str | None) -> None:
    assert declared_xml_encoding(head) == expected


@pytest.mark.parametrize(
    ("declared", "content_type", "expected"),
    [
        (None, None, "utf-8"),
        (None, "text/xml;charset=US-ASCII", "utf-8"),
        (None, "text/xml; charset=ISO-8859-1", WINDOWS_1252),
        (None, 'text/xml; charset="windows-1252"', WINDOWS_1252),
        ("ISO-8859-1", "text/xml; charset=utf-8", WINDOWS_1252),  # the declaration wins
        ("utf-8", "text/xml; charset=ISO-8859-1", "utf-8"),
        ("no-such-codec", "text/xml; charset=latin-1", WINDOWS_1252),
        ("UTF-16", None, "utf-8"),  # no byte-order mark: not really UTF-16
        (None, "text/xml; charset=iso-8859-15", "iso8859-15"),
    ],
)
def test_resolve_encoding(declared: str | None, content_type: str | None, expected: str) -> None:
    assert resolve_encoding(declared, content_type) == expected


def test_invalid_utf8_bytes_fall_back_to_windows_1252_once_per_line() -> None:
    repairs = RepairCounts()
    decoder = TextDecoder("utf-8", repairs)
    data = "Café\n".encode() + b"Nu\xf1ez \x93quoted\x94 " + "Straße\n".encode() + "Ünïcode".encode()
    assert decoder.decode(data, row=4) == "Café\nNuñez \u201cquoted\u201d Straße\nÜnïcode"
    assert repairs.encoding_fallbacks == 1
    assert repairs.sample_rows == {"encoding_fallbacks": [4]}


def test_noncharacters_are_removed_when_decoding() -> None:
    repairs = RepairCounts()
    assert TextDecoder("utf-8", repairs).decode("a\ufffeb\uffffc\ufffd".encode(), row=6) == "abc\ufffd"
    assert repairs.control_chars_removed == 2
    assert repairs.sample_rows == {"control_chars_removed": [6]}


def test_windows_1252_decodes_every_byte() -> None:
    repairs = RepairCounts()
    decoder = TextDecoder(WINDOWS_1252, repairs)
    assert decoder.decode(b"\x80 \x81 \x9d \xe9 \xff") == "€ \x81 \x9d é ÿ"
    assert repairs.total == 0  # declared single-byte text is not a fallback


def _collect(chunks: list[bytes]) -> tuple[bytes, bool]:
    stream, transcoded = utf8_chunks(chunks)
    return b"".join(stream), transcoded


def test_utf8_byte_order_mark_is_dropped() -> None:
    assert _collect([codecs.BOM_UTF8 + b"<RE", b"TS/>"]) == (b"<RETS/>", False)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_bodies_are_transcoded_even_when_split_oddly(encoding: str) -> None:
    body = '<RETS ReplyCode="0">Ñandú 😀</RETS>'.encode(encoding)
    chunks = [body[index : index + 3] for index in range(0, len(body), 3)]
    assert _collect(chunks) == ('<RETS ReplyCode="0">Ñandú 😀</RETS>'.encode(), True)


def test_plain_bodies_pass_through_unchanged() -> None:
    assert _collect([b"<R", b"", b"ETS/>"]) == (b"<RETS/>", False)
    assert _collect([]) == (b"", False)


# --- references -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Kitchen &amp; Bath &lt;new&gt; &quot;x&quot; Owner&apos;s", "Kitchen & Bath <new> \"x\" Owner's"),
        ("Line&#xD;&#xA;two&#13;&#10;three&#9;tab", "Line\r\ntwo\r\nthree\ttab"),
        ("&#65;&#x42;&#X43;&#x1F600;", "ABC😀"),
        ("&#38;amp; stays one level", "&amp; stays one level"),
        ("&amp;#65; stays literal", "&#65; stays literal"),
        ("no references", "no references"),
    ],
)
def test_unescape_decodes_references(text: str, expected: str) -> None:
    repairs = RepairCounts()
    assert unescape_text(text, repairs) == expected
    assert repairs.total == 0


@pytest.mark.parametrize("reference", ["&#0;", "&#x0;", "&#x1F;", "&#8;", "&#xB;", "&#xFFFE;", "&#xFFFF;", "&#1114112;"])
def test_illegal_character_references_are_removed_and_counted(reference: str) -> None:
    repairs = RepairCounts()
    assert unescape_text(f"a{reference}b", repairs, row=2) == "ab"
    assert repairs.char_refs_removed == 1
    assert repairs.sample_rows == {"char_refs_removed": [2]}


@pytest.mark.parametrize(
    "pair",
    ["&#xD83D;&#xDE00;", "&#xd83d;&#xde00;", "&#55357;&#56832;", "&#xD83D;&#56832;"],
)
def test_surrogate_pair_references_are_joined(pair: str) -> None:
    repairs = RepairCounts()
    assert unescape_text(f"smile {pair}!", repairs) == "smile 😀!"
    assert repairs.surrogate_pairs_joined == 1
    assert repairs.lone_surrogates_removed == 0


def test_lone_surrogates_are_removed_and_counted() -> None:
    repairs = RepairCounts()
    text = "a&#xD83D;b&#xDE00;c&#xDE00;&#xD83D;d&#xD83D;&#xD83D;&#xDE00;"
    assert unescape_text(text, repairs) == "abcd😀"
    assert repairs.lone_surrogates_removed == 5
    assert repairs.surrogate_pairs_joined == 1


@pytest.mark.parametrize(("text", "strays"), [("A & B", 1), ("AT&T &nbsp; &;", 3), ("tail &", 1), ("&#xZZ;", 1)])
def test_stray_ampersands_stay_literal_and_are_counted(text: str, strays: int) -> None:
    repairs = RepairCounts()
    assert unescape_text(text, repairs) == text
    assert repairs.markup_escaped == strays


def test_unescape_utf8_decodes_known_references_within_bounds() -> None:
    data = b"<DATA>Kitchen &amp; Bath &lt;3&gt; &quot;x&quot; Owner&apos;s&#xD;&#xA;&#9;\xc3\xa9</DATA>&amp;"
    start, end = len(b"<DATA>"), data.index(b"</DATA>")
    assert unescape_utf8(data, start, end) == b'Kitchen & Bath <3> "x" Owner\'s\r\n\t\xc3\xa9'
    assert unescape_utf8(data, start, start + len(b"Kitchen &amp;")) == b"Kitchen &"
    assert unescape_utf8(data, start, start + len(b"Kitchen &amp")) is None  # the end cuts the reference
    assert unescape_utf8(b"no references", 0, 13) == b"no references"


@pytest.mark.parametrize("text", [b"A & B", b"AT&T", b"&nbsp;", b"&;", b"&#0;", b"&#xD83D;&#xDE00;", b"&#xZZ;", b"tail &amp"])
def test_unescape_utf8_leaves_what_needs_repair_to_unescape_text(text: bytes) -> None:
    assert unescape_utf8(text, 0, len(text)) is None


def test_numeric_references_are_learned_from_the_repairing_path() -> None:
    text = "clef &#119070; and &#x1D11F;"  # used nowhere else in the tests
    assert unescape_utf8(text.encode(), 0, len(text)) is None
    repairs = RepairCounts()
    assert unescape_text(text, repairs) == "clef \U0001d11e and \U0001d11f"
    assert unescape_utf8(text.encode(), 0, len(text)) == "clef \U0001d11e and \U0001d11f".encode()
    assert repairs.total == 0


_BYTE_FRAGMENTS = st.sampled_from([
    b"a", "é".encode(), "😀".encode(), b" ", b"\t", b"\n", b";", b"#", b"&", b"&amp;", b"&lt;", b"&gt;", b"&quot;",
    b"&apos;", b"&#65;", b"&#x41;", b"&#X41;", b"&#0;", b"&#xD83D;", b"&#xD;", b"&#10;", b"&#8217;", b"&nbsp;", b"&amp",
    b"\xc3", b"\x93", b"\xe2\x80",
])


@settings(max_examples=300, deadline=None)
@given(st.lists(_BYTE_FRAGMENTS, max_size=16).map(b"".join))
def test_unescape_utf8_then_decoding_equals_decoding_then_unescape_text(data: bytes) -> None:
    unescaped = unescape_utf8(data, 0, len(data))
    if unescaped is None:
        return
    try:
        text = data.decode()
    except UnicodeDecodeError:
        with pytest.raises(UnicodeDecodeError):
            unescaped.decode()
        return
    repairs = RepairCounts()
    assert unescaped.decode() == unescape_text(text, repairs)
    assert repairs.total == 0


@pytest.mark.parametrize(
    ("data", "expected"),
    [(b"plain", False), ("\ufffe".encode(), True), (b"x" + "\uffff".encode(), True), ("\ufffd\uff0c".encode(), False)],
)
def test_has_utf8_noncharacters(data: bytes, expected: bool) -> None:
    assert has_utf8_noncharacters(data) is expected


def test_escape_text_keeps_valid_references_for_the_parser() -> None:
    repairs = RepairCounts()
    escaped = escape_text("a &amp; b & c&#0;&#X41;&#xD83D;&#xDE00;", repairs)
    assert escaped == "a &amp; b &amp; c&#65;😀"
    assert (repairs.markup_escaped, repairs.char_refs_removed, repairs.surrogate_pairs_joined) == (1, 1, 1)
    assert repairs.total == 3


def test_escape_data_markup_escapes_stray_lt_but_not_cdata() -> None:
    repairs = RepairCounts()
    escaped = escape_data_markup("<b>x</b> <![CDATA[<keep & this>]]> <!-- a<b --> 1 < 2 & 3", repairs, row=5)
    assert escaped == "&lt;b>x&lt;/b> <![CDATA[<keep & this>]]> <!-- a<b --> 1 &lt; 2 &amp; 3"
    assert repairs.markup_escaped == 4
    assert repairs.sample_rows == {"markup_escaped": [5]}


def _lxml_text(markup: str) -> str:
    element = etree.fromstring(f"<DATA>{markup}</DATA>".encode())
    return "".join(element.itertext())


_FRAGMENTS = st.sampled_from([
    "a", "é", "😀", " ", "\t", "\n", "<", ">", "&", ";", "#", "x", "&amp;", "&lt;", "&gt;", "&quot;", "&apos;",
    "&#65;", "&#x41;", "&#X41;", "&#0;", "&#x1F;", "&#xFFFE;", "&#xD83D;", "&#xDE00;", "&#55357;", "&#56832;",
    "&#xD;", "&#xA;", "&#13;", "&#9;", "&#XD;", "&#xd;", "&nbsp;", "&#xZZ;", "&#;", "&#x110000;", "]]>", "]",
])


@settings(max_examples=400, deadline=None)
@given(st.lists(_FRAGMENTS, max_size=20).map("".join))
@example(text="]&#0;]>")  # dropping the bad reference makes "]]>", which XML character data may not hold
def test_fast_decoding_equals_lxml_on_the_repaired_markup(text: str) -> None:
    """What the fast path does to a DATA text equals what lxml reads from the careful path's repair."""
    fast, careful = RepairCounts(), RepairCounts()
    if "<" in text:
        count_stray_lt(text, fast)
    decoded = unescape_text(text, fast)
    assert decoded == _lxml_text(escape_data_markup(text, careful))
    assert fast.as_dict() == careful.as_dict()
    assert fast.markup_escaped >= text.count("<")


# --- the careful path's repaired stream ------------------------------------------------------------


def _repaired(chunks: list[bytes], encoding: str = "utf-8") -> tuple[bytes, RepairCounts, bool]:
    repairs = RepairCounts()
    stream = XmlRepairStream(chunks, TextDecoder(encoding, repairs), repairs)
    data = b"".join(stream)
    return data, repairs, stream.complete


def test_repair_stream_makes_a_broken_body_parseable() -> None:
    body = (
        b'<RETS ReplyCode="0" ReplyText="A &amp; B">\n<COLUMNS>\tA\tB\t</COLUMNS>\n'
        b"<DATA>\tx\x01y\t1 < 2 & 3\t</DATA>\n"
        b"<DATA>\tNu\xf1ez\t&#xD83D;&#xDE00;&#0;\t</DATA>\n"
        b"</RETS>\n"
    )
    chunks = [body[index : index + 5] for index in range(0, len(body), 5)]
    data, repairs, complete = _repaired(chunks)
    root = etree.fromstring(data)
    assert [element.text for element in root.iter("DATA")] == ["\txy\t1 < 2 & 3\t", "\tNuñez\t😀\t"]
    assert root.get("ReplyText") == "A & B"
    assert complete
    assert repairs.as_dict() == {
        "control_chars_removed": 1,
        "char_refs_removed": 1,
        "surrogate_pairs_joined": 1,
        "lone_surrogates_removed": 0,
        "encoding_fallbacks": 1,
        "markup_escaped": 2,
        "cell_count_mismatches": 0,
    }
    assert repairs.sample_rows == {
        "control_chars_removed": [1],
        "markup_escaped": [1],
        "encoding_fallbacks": [2],
        "surrogate_pairs_joined": [2],
        "char_refs_removed": [2],
    }


def test_repair_stream_leaves_cdata_and_comments_alone_across_cuts() -> None:
    padding = b"<Pad>" + b"x" * 70_000 + b"</Pad>"
    body = b"<RETS><Record>" + padding + b"<Note><![CDATA[a > b & <c>]]><!-- & > --></Note></Record></RETS>"
    chunks = [body[index : index + 1000] for index in range(0, len(body), 1000)]
    data, repairs, complete = _repaired(chunks)
    assert data == body
    assert repairs.total == 0
    assert complete


@pytest.mark.parametrize(
    ("body", "complete"),
    [
        (b"<RETS><DATA>x</DATA></RETS>\r\n", True),
        (b'<RETS ReplyCode="20201" ReplyText="none" />', True),
        (b"<RETS><DATA>x</DATA></RE", False),
        (b"<RETS><DATA>x</DA", False),
    ],
)
def test_repair_stream_tells_whether_the_body_ended(body: bytes, complete: bool) -> None:
    assert _repaired([body])[2] is complete
