"""Repairs for what real RETS feeds send, applied before or while parsing, each one counted.

Every repair is exact and small: illegal XML control bytes and illegal character references are
removed (never replaced), UTF-16 surrogate-pair references are joined into one character, lone
surrogates are removed, bytes that are not valid in the declared encoding are read as Windows-1252
(counted once per line), and stray ``<`` / ``&`` inside COMPACT ``DATA`` are taken literally.

Two consumers share these functions so that they agree byte for byte: the COMPACT fast path
decodes a row straight to text (:func:`unescape_utf8` on the bytes of a row that needs no repair,
else :func:`unescape_text`), and the careful lxml path feeds lxml a repaired, still-escaped UTF-8
stream (:class:`XmlRepairStream`).
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, fields

SAMPLE_ROWS = 5


@dataclass
class RepairCounts:
    """How many repairs of each kind a response (or a whole run) needed.

    ``control_chars_removed`` also counts the non-characters U+FFFE and U+FFFF (as illegal in XML).
    ``sample_rows`` keeps the first few 1-based row numbers (within their Search page) where each
    kind of repair happened, for a data-quality report. ``encoding_fallbacks`` counts lines
    decoded as Windows-1252 (a COMPACT row is one line in practice).
    """

    control_chars_removed: int = 0
    char_refs_removed: int = 0
    surrogate_pairs_joined: int = 0
    lone_surrogates_removed: int = 0
    encoding_fallbacks: int = 0
    markup_escaped: int = 0
    cell_count_mismatches: int = 0
    sample_rows: dict[str, list[int]] = field(default_factory=dict, compare=False)

    def note(self, kind: str, amount: int, row: int = 0) -> None:
        """Count ``amount`` repairs of ``kind`` (a field name) seen in ``row`` (0: not in a row)."""
        setattr(self, kind, getattr(self, kind) + amount)
        if row:
            samples = self.sample_rows.setdefault(kind, [])
            if len(samples) < SAMPLE_ROWS and row not in samples:
                samples.append(row)

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "sample_rows"}

    def add(self, other: RepairCounts) -> None:
        """Add another set of counts (and its sample rows, up to the cap) into this one."""
        for name, amount in other.as_dict().items():
            setattr(self, name, getattr(self, name) + amount)
        for kind, rows in other.sample_rows.items():
            samples = self.sample_rows.setdefault(kind, [])
            samples.extend(row for row in rows if row not in samples)
            del samples[SAMPLE_ROWS:]

    @property
    def total(self) -> int:
        return sum(self.as_dict().values())


# --- control bytes ----------------------------------------------------------------------------

# Illegal in XML 1.0 whatever the encoding (TAB, LF and CR are fine). In UTF-8 and single-byte
# encodings these bytes never occur inside a multi-byte character, so removing bytes is safe.
CONTROL_BYTES = bytes([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20)])
# One memchr per byte value is several times faster than a regex character class.
_CONTROL_SINGLES = [bytes([byte]) for byte in CONTROL_BYTES]


def has_control_bytes(data: bytes) -> bool:
    return any(byte in data for byte in _CONTROL_SINGLES)


_UTF8_NONCHARACTERS = ("\ufffe".encode(), "\uffff".encode())


def has_utf8_noncharacters(data: bytes) -> bool:
    """Whether UTF-8 ``data`` holds U+FFFE or U+FFFF (both start with the rare byte 0xEF)."""
    return b"\xef" in data and any(char in data for char in _UTF8_NONCHARACTERS)


def remove_control_bytes(data: bytes, repairs: RepairCounts, row: int = 0) -> bytes:
    """``data`` without illegal XML control bytes; each removed byte is counted."""
    cleaned = data.translate(None, CONTROL_BYTES)
    if len(cleaned) != len(data):
        repairs.note("control_chars_removed", len(data) - len(cleaned), row)
    return cleaned


# --- encodings --------------------------------------------------------------------------------

UTF8 = "utf-8"
WINDOWS_1252 = "windows-1252"

# Windows-1252 leaves five bytes undefined; they keep their ISO-8859-1 meaning (C1 controls,
# which XML 1.0 allows) so that the fallback can decode any byte string.
_WINDOWS_1252_TABLE = "".join(
    char if char != "\ufffd" else chr(byte)
    for byte, char in enumerate(bytes([b]).decode("cp1252", "replace") for b in range(256))
)
_SINGLE_BYTE_LATIN = {"iso8859-1", "cp1252"}  # codecs.lookup() names
_ASCII_LIKE = {"ascii", UTF8, "utf-8-sig"}
_XML_DECLARATION = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']\s*([A-Za-z0-9._:-]+)\s*["']""")
_CHARSET = re.compile(r"""charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.IGNORECASE)


def declared_xml_encoding(head: bytes) -> str | None:
    """The ``encoding=`` of the XML declaration at the start of ``head``, if any."""
    match = _XML_DECLARATION.match(head)
    return match.group(1).decode("ascii") if match else None


def content_type_charset(content_type: str | None) -> str | None:
    match = _CHARSET.search(content_type or "")
    return match.group(1) if match else None


def resolve_encoding(xml_declared: str | None, content_type: str | None) -> str:
    """The codec to read a body with: the XML declaration, else the HTTP charset, else UTF-8.

    The declaration wins because the program that wrote the XML wrote it; HTTP charsets are often
    a web server's default (flexmls says US-ASCII). US-ASCII is read as UTF-8, and ISO-8859-1 as
    Windows-1252 (its printable superset, as browsers do). Unknown names fall back to UTF-8.
    """
    for name in (xml_declared, content_type_charset(content_type)):
        if not name:
            continue
        try:
            codec = codecs.lookup(name).name
        except LookupError:
            continue
        if codec.startswith(("utf-16", "utf-32")):
            continue  # without a byte-order mark the body is not really UTF-16 (see utf8_chunks)
        if codec in _ASCII_LIKE:
            return UTF8
        return WINDOWS_1252 if codec in _SINGLE_BYTE_LATIN else codec
    return UTF8


def decode_windows_1252(data: bytes) -> str:
    return codecs.charmap_decode(data, "strict", _WINDOWS_1252_TABLE)[0]


def _windows_1252_fallback(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeDecodeError):
        raise error
    return decode_windows_1252(error.object[error.start : error.end]), error.end


_FALLBACK = "retsctl.windows-1252"
codecs.register_error(_FALLBACK, _windows_1252_fallback)


class TextDecoder:
    """Decodes body bytes in one encoding. In a line that is invalid in it, the invalid bytes are
    read as Windows-1252 (valid characters around them stay as they are); one fallback per line."""

    def __init__(self, encoding: str, repairs: RepairCounts) -> None:
        self.encoding = encoding
        self.repairs = repairs
        self._single_byte = encoding == WINDOWS_1252

    def decode(self, data: bytes, row: int = 0) -> str:
        if self._single_byte:
            return decode_windows_1252(data)
        try:
            text = data.decode(self.encoding)
        except UnicodeDecodeError:
            text = "\n".join(self._decode_line(line, row) for line in data.split(b"\n"))
        if "\ufffe" in text or "\uffff" in text:
            text = self._remove_noncharacters(text, row)
        return text

    def _remove_noncharacters(self, text: str, row: int) -> str:
        """U+FFFE and U+FFFF are not XML characters either: removed like control bytes."""
        cleaned = text.replace("\ufffe", "").replace("\uffff", "")
        self.repairs.note("control_chars_removed", len(text) - len(cleaned), row)
        return cleaned

    def _decode_line(self, line: bytes, row: int) -> str:
        try:
            return line.decode(self.encoding)
        except UnicodeDecodeError:
            self.repairs.note("encoding_fallbacks", 1, row)
            return line.decode(self.encoding, _FALLBACK)


def utf8_chunks(chunks: Iterable[bytes]) -> tuple[Iterator[bytes], bool]:
    """``chunks`` with a byte-order mark handled: a UTF-8 BOM is dropped, UTF-16 is re-encoded
    to UTF-8. The flag says whether the body was transcoded (its declared encoding is then moot)."""
    stream = iter(chunks)
    first = b""
    for chunk in stream:
        first += chunk
        if len(first) >= 4:
            break
    if first.startswith(codecs.BOM_UTF8):
        return _prepend(first[3:], stream), False
    utf16 = _utf16_variant(first)
    if utf16 is None:
        return _prepend(first, stream), False
    return _transcode(_prepend(first, stream), utf16), True


def _utf16_variant(start: bytes) -> str | None:
    if start.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if start.startswith(b"<\x00") and not start.startswith(b"<\x00\x00"):
        return "utf-16-le"
    if start.startswith(b"\x00<"):
        return "utf-16-be"
    return None


def _prepend(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    if first:
        yield first
    yield from rest


def _transcode(chunks: Iterator[bytes], encoding: str) -> Iterator[bytes]:
    decoder = codecs.getincrementaldecoder(encoding)("replace")
    for chunk in chunks:
        yield decoder.decode(chunk).encode(UTF8)
    yield decoder.decode(b"", final=True).encode(UTF8)


# --- references and stray markup ----------------------------------------------------------------

_PREDEFINED = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}
# Every "&": a numeric reference, a predefined entity, or (no group) a stray ampersand.
_REFERENCE = re.compile(r"&(?:#[xX]([0-9a-fA-F]{1,8});|#([0-9]{1,10});|(amp|lt|gt|quot|apos);)?")
_SURROGATE_PAIR = re.compile("[\ud800-\udbff][\udc00-\udfff]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
# Sections whose content is not markup: stray-markup repairs must leave them alone.
_PROTECTED_MARKUP = re.compile(r"<!\[CDATA\[.*?\]\]>|<!--.*?-->|<\?.*?\?>", re.DOTALL)


def _is_xml_char(code: int) -> bool:
    if code < 0x20:
        return code in (0x09, 0x0A, 0x0D)
    return code <= 0xD7FF or 0xE000 <= code <= 0xFFFD or 0x10000 <= code <= 0x10FFFF


def _is_surrogate(code: int) -> bool:
    return 0xD800 <= code <= 0xDFFF


class _ReferenceRepair:
    """A ``re.sub`` callback for :data:`_REFERENCE` that repairs as it goes.

    ``escaped=False`` decodes every reference (the fast path's text); ``escaped=True`` keeps valid
    references for lxml to decode and only escapes stray ampersands. Surrogate halves are emitted
    as characters (``saw_surrogate`` is then set) so that :func:`_join_surrogates` can pair them.
    """

    def __init__(self, repairs: RepairCounts, row: int, *, escaped: bool) -> None:
        self.repairs = repairs
        self.row = row
        self.escaped = escaped
        self.saw_surrogate = False

    def __call__(self, match: re.Match[str]) -> str:
        hex_digits, decimal, name = match.groups()
        if name:
            return match.group(0) if self.escaped else _PREDEFINED[name]
        if hex_digits is None and decimal is None:
            self.repairs.note("markup_escaped", 1, self.row)
            return "&amp;" if self.escaped else "&"
        code = int(hex_digits, 16) if hex_digits is not None else int(decimal)
        if _is_surrogate(code):
            self.saw_surrogate = True
            return chr(code)
        if not _is_xml_char(code):
            self.repairs.note("char_refs_removed", 1, self.row)
            return ""
        _learn_reference(match.group(0)[1:-1], chr(code))
        # "&#X41;" is not XML (lower-case x only); re-emitting it in decimal makes lxml accept it.
        return f"&#{code};" if self.escaped else chr(code)


def _join_surrogates(text: str, repairs: RepairCounts, row: int) -> str:
    pairs = len(_SURROGATE_PAIR.findall(text))
    if pairs:
        repairs.note("surrogate_pairs_joined", pairs, row)
        text = _SURROGATE_PAIR.sub(lambda m: m.group(0).encode("utf-16", "surrogatepass").decode("utf-16"), text)
    lone = len(_LONE_SURROGATE.findall(text))
    if lone:
        repairs.note("lone_surrogates_removed", lone, row)
        text = _LONE_SURROGATE.sub("", text)
    return text


def _repair_references(text: str, repairs: RepairCounts, row: int, *, escaped: bool) -> str:
    repair = _ReferenceRepair(repairs, row, escaped=escaped)
    text = _REFERENCE.sub(repair, text)
    return _join_surrogates(text, repairs, row) if repair.saw_surrogate else text


# Well-formed references real feeds use often, by what sits between "&" and ";".
_COMMON_REFERENCES = {
    **_PREDEFINED,
    **{f"#{form}": char for char in "\t\n\r" for form in (str(ord(char)), f"x{ord(char):X}", f"x{ord(char):x}")},
}
_LONGEST_COMMON = max(map(len, _COMMON_REFERENCES)) + 1


# The same references as UTF-8 bytes, plus the numeric ones the repairing path has decoded so far
# (bounded): a feed uses few distinct ones (&#39;, &#8217;…), and after their first row the byte
# path decodes them too.
_KNOWN_REFERENCES = {name.encode(): char.encode(UTF8) for name, char in _COMMON_REFERENCES.items()}
_KNOWN_LIMIT = len(_KNOWN_REFERENCES) + 4096
_LONGEST_REFERENCE = len("&#0000000000;")  # ten decimal digits, as _REFERENCE allows
_AMP_LENGTH = len("&amp;")


def _learn_reference(name: str, char: str) -> None:
    if len(_KNOWN_REFERENCES) < _KNOWN_LIMIT:
        _KNOWN_REFERENCES[name.encode()] = char.encode(UTF8)


def unescape_utf8(data: bytes, start: int, end: int) -> bytes | None:
    """UTF-8 ``data[start:end]`` with its references decoded, or None when one of them is not a
    well-formed reference already known (or an ampersand is stray): :func:`unescape_text` must then
    repair the decoded text.

    Decoding before or after this gives the same text: references sit between whole characters and
    decode to whole characters, so the bytes are valid UTF-8 exactly when the input is. ``bytes``
    slices are plain copies where ``str`` ones also scan for their widest character, and
    ``bytes.find`` of one byte is a memchr.
    """
    find = data.find
    startswith = data.startswith
    known = _KNOWN_REFERENCES.get
    pieces: list[bytes] = []
    last = start
    ampersand = find(b"&", start, end)
    while ampersand >= 0:
        if startswith(b"amp;", ampersand + 1, end):
            # By far the most frequent reference: keep its "&", drop "amp;", no lookup.
            pieces.append(data[last : ampersand + 1])
            last = ampersand + _AMP_LENGTH
        else:
            semicolon = find(b";", ampersand, min(ampersand + _LONGEST_REFERENCE, end))
            char = known(data[ampersand + 1 : semicolon]) if semicolon > 0 else None
            if char is None:
                return None
            pieces += data[last:ampersand], char
            last = semicolon + 1
        ampersand = find(b"&", last, end)
    pieces.append(data[last:end])
    return b"".join(pieces)


def unescape_text(text: str, repairs: RepairCounts, row: int = 0) -> str:
    """Decode the references in XML character data, repairing bad ones (fast path).

    Equivalent to what lxml returns for the repaired text from :func:`escape_text`.
    """
    pieces = _split_common_references(text)
    if pieces is None:
        return _repair_references(text, repairs, row, escaped=False)
    return "".join(pieces)


def escape_text(text: str, repairs: RepairCounts, row: int = 0) -> str:
    """Repair the references in XML markup so that a strict parser accepts it (careful path)."""
    if _split_common_references(text) is not None:
        return text
    return _repair_references(text, repairs, row, escaped=True)


def _split_common_references(text: str) -> list[str] | None:
    """``text`` as literal pieces alternating with the characters of its references, or None when
    a reference is not one of the common ones (or an ampersand is stray).

    A ``str.find`` walk (memchr) is far cheaper than a regex callback per reference.
    """
    find = text.find
    common = _COMMON_REFERENCES.get
    pieces = []
    last = 0
    ampersand = find("&")
    while ampersand >= 0:
        end = find(";", ampersand, ampersand + _LONGEST_COMMON + 1)
        char = common(text[ampersand + 1 : end]) if end > 0 else None
        if char is None:
            return None
        pieces.append(text[last:ampersand])
        pieces.append(char)
        last = end + 1
        ampersand = find("&", last)
    pieces.append(text[last:])
    return pieces


def count_stray_lt(text: str, repairs: RepairCounts, row: int = 0) -> None:
    """Count the raw ``<`` of a DATA text the fast path takes literally (no protected markup in it)."""
    repairs.note("markup_escaped", text.count("<"), row)


def escape_data_markup(text: str, repairs: RepairCounts, row: int = 0) -> str:
    """The content of one COMPACT ``DATA`` element made well-formed: outside CDATA, comments and
    processing instructions every raw ``<`` is escaped and references are repaired."""
    if "<" not in text:
        return _escape_character_data(text, repairs, row)
    return _outside_protected(text, lambda gap: _escape_data_gap(gap, repairs, row))


def escape_markup(text: str, repairs: RepairCounts) -> str:
    """XML markup outside DATA rows with its references repaired (CDATA, comments and processing
    instructions left alone)."""
    if "&" not in text and "]]>" not in text:
        return text
    return _outside_protected(text, lambda gap: _escape_character_data(gap, repairs, 0))


def _outside_protected(text: str, repair: Callable[[str], str]) -> str:
    pieces = []
    position = 0
    for section in _PROTECTED_MARKUP.finditer(text):
        pieces.append(repair(text[position : section.start()]))
        pieces.append(section.group(0))
        position = section.end()
    pieces.append(repair(text[position:]))
    return "".join(pieces)


def _escape_data_gap(text: str, repairs: RepairCounts, row: int) -> str:
    if "<" in text:
        count_stray_lt(text, repairs, row)
        text = text.replace("<", "&lt;")
    return _escape_character_data(text, repairs, row)


def _escape_character_data(text: str, repairs: RepairCounts, row: int) -> str:
    if "&" in text:
        text = escape_text(text, repairs, row)
    if "]]>" in text:
        # Not allowed in XML character data (also once a bad reference between its characters is
        # dropped); the fast path reads it literally, and so must lxml.
        text = text.replace("]]>", "]]&gt;")
    return text


# --- the careful path's input ------------------------------------------------------------------

_SEGMENT_BYTES = 1 << 16
_DATA_START = "<DATA>"
_DATA_END = b"</DATA>"
_ROOT_END = re.compile(rb"(?:</RETS\s*>|<RETS\b[^<>]*/>)\s*$", re.IGNORECASE)


class XmlRepairStream:
    """Turns raw body chunks into repaired UTF-8 XML for lxml (the careful path).

    Applies the same repairs as the fast path, in the same order: control bytes, decoding (per
    line fallback), stray markup inside DATA, references everywhere outside protected markup.
    Segments end after a ``</DATA>`` so that row numbers in :class:`RepairCounts` stay right.
    ``complete`` tells, once exhausted, whether the body ended with its root's end tag.
    """

    def __init__(self, chunks: Iterable[bytes], decoder: TextDecoder, repairs: RepairCounts, *, first_row: int = 1) -> None:
        self._chunks = chunks
        self._decoder = decoder
        self._repairs = repairs
        self._row = first_row
        self._tail = b""

    def __iter__(self) -> Iterator[bytes]:
        pending = b""
        for chunk in self._chunks:
            pending += chunk
            cut = _segment_cut(pending)
            if cut:
                yield self._repair_segment(pending[:cut])
                pending = pending[cut:]
        if pending:
            yield self._repair_segment(pending)

    @property
    def complete(self) -> bool:
        return _ROOT_END.search(self._tail) is not None

    def _repair_segment(self, segment: bytes) -> bytes:
        self._tail = (self._tail + segment)[-256:]
        controls = has_control_bytes(segment)
        *rows, rest = segment.split(_DATA_END)
        repaired = [self._repair_row(row, controls) for row in rows]
        repaired.append(escape_markup(self._repair_piece(rest, controls, row=0), self._repairs))
        return "</DATA>".join(repaired).encode(UTF8)

    def _repair_row(self, data: bytes, controls: bool) -> str:
        """One piece that ended with ``</DATA>`` (removed): whatever precedes ``<DATA>``, then the row."""
        row = self._row
        text = self._repair_piece(data, controls, row)
        start = text.find(_DATA_START)
        if start < 0:
            return escape_markup(text, self._repairs)
        self._row += 1
        content = escape_data_markup(text[start + len(_DATA_START) :], self._repairs, row)
        return f"{escape_markup(text[:start], self._repairs)}{_DATA_START}{content}"

    def _repair_piece(self, data: bytes, controls: bool, row: int) -> str:
        if controls and has_control_bytes(data):
            data = remove_control_bytes(data, self._repairs, row)
        return self._decoder.decode(data, row)


def _segment_cut(pending: bytes) -> int:
    """Where a segment can end: after the last ``</DATA>``, else (long STANDARD-XML stretches)
    after the last ``>`` that does not sit inside CDATA or a comment; 0 to wait for more."""
    end = pending.rfind(_DATA_END)
    if end >= 0:
        return end + len(_DATA_END)
    if len(pending) < _SEGMENT_BYTES:
        return 0
    if pending.rfind(b"<DATA>") >= 0:
        return 0  # one huge row: wait for its end tag
    cut = pending.rfind(b">") + 1
    for opening, closing in ((b"<![CDATA[", b"]]>"), (b"<!--", b"-->")):
        start = pending.rfind(opening, 0, cut)
        close = pending.find(closing, start) if start >= 0 else -1
        if start >= 0 and (close < 0 or close + len(closing) > cut):
            cut = start
    return cut
