"""Streaming reader for Search response bodies: COMPACT, COMPACT-DECODED and STANDARD-XML.

Two paths give identical records for the same bytes:

* The **fast path** handles COMPACT rows at the byte level: it finds rows with ``bytes.find``
  (memchr), decodes the references of a row that needs no repair as bytes, decodes it with one
  ``bytes.decode``, and splits on the delimiter (RETS 1.7.2 §13; leading and trailing delimiter
  each optional). Rows that need repairs are decoded, then repaired, as text.
* **JSON lines** (``SearchReader.json_lines``): a plain row's JSON object is assembled from its
  bytes (references decoded, JSON escapes added, split on the delimiter, joined with the encoded
  column names) without a ``dict`` or a ``str`` per cell; every other row is decoded as above and
  encoded with orjson. Either way the line is byte for byte :func:`encode_record` of the record.
  ``json_values_with(fields)`` hands out each record as its column names and its values escaped
  the same way (:mod:`retsctl.rets.values`: TAB between them, a plain row's bytes with its delimiter as
  TAB), with the values of a few fields (what a mapping reads) decoded from their cells alone.
* The **careful path** feeds lxml's recovering pull parser a repaired stream. It takes over for
  anything the fast path does not expect — CDATA, comments or processing instructions inside a row,
  an unknown element, a STANDARD-XML body — from the row where the surprise appears.

STANDARD-XML records are flattened generically: every child of ``<RETS>`` or of a wrapper
(``RETS-RESPONSE``, ``REData``, ``REProperties`` and other ``RE<Plural>`` containers) that is not
an envelope element (COUNT, MAXROWS, RETS-STATUS, CREA's ``Pagination``…) is one record. Its leaf
elements become ``path/to/Leaf`` keys (namespaces dropped); the n-th repeated sibling gets ``[n]``
from the second on (``Phones/Phone``, ``Phones/Phone[2]``); attributes become ``path@Name`` (the
record's own as ``@Name``). Text of elements that also have child elements is dropped.

Memory stays flat: only the current row (or STANDARD-XML record) and one chunk are held.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import chain
from operator import itemgetter
from typing import Any, AnyStr

import orjson
from lxml import etree

from retsctl.rets.replies import (
    MAX_RECORDS_EXCEEDED,
    NO_RECORDS,
    SUCCESS,
    Reply,
    RetsProtocolError,
    find_reply,
    looks_like_html,
    reply_error,
)
from retsctl.rets.sanitize import (
    UTF8,
    RepairCounts,
    TextDecoder,
    XmlRepairStream,
    count_stray_lt,
    declared_xml_encoding,
    has_control_bytes,
    has_utf8_noncharacters,
    remove_control_bytes,
    resolve_encoding,
    unescape_text,
    unescape_utf8,
    utf8_chunks,
)
from retsctl.rets.values import SEPARATOR, encode_values

TRANSACTION = "Search"
TAB = "\t"
_DATA_OPEN = b"<DATA>"
_DATA_CLOSE = b"</DATA>"
_OPEN_LENGTH, _CLOSE_LENGTH = len(_DATA_OPEN), len(_DATA_CLOSE)
_PROTECTED_START = (b"<![CDATA[", b"<!--", b"<?")
_HEAD_LIMIT = 1 << 20  # an envelope larger than this before any row is not COMPACT
_ROW_LIMIT = 64 << 20
_DETAIL_LIMIT = 1 << 16
_OK_CODES = (SUCCESS, NO_RECORDS, MAX_RECORDS_EXCEEDED)


class _SwitchToCareful(Exception):
    """The fast path met something it does not handle; ``remaining`` are the bytes not yet read."""

    def __init__(self, remaining: bytes) -> None:
        super().__init__()
        self.remaining = remaining


# --- the envelope: every tag around the rows ---------------------------------------------------

_MORE, _DATA, _END, _OTHER, _NOT_RETS, _CONTINUE = "more", "data", "end", "other", "not-rets", "continue"
_TAG = re.compile(rb"""<(/?)([A-Za-z_][\w.:-]*)((?:[^>"']|"[^"]*"|'[^']*')*?)\s*(/?)>""")
_ATTRIBUTE = r"""(?:^|\s){name}\s*=\s*(?:"([^"]*)"|'([^']*)')"""
_RECORDS = re.compile(_ATTRIBUTE.format(name="Records").encode(), re.IGNORECASE)
_VALUE = re.compile(_ATTRIBUTE.format(name="value").encode(), re.IGNORECASE)
_HEX_OCTET = re.compile(r"[0-9A-Fa-f]{1,2}")


@dataclass
class _Envelope:
    """What the tags around the rows have said so far."""

    opening: Reply | None = None
    status: Reply | None = None
    count: int | None = None
    delimiter: str | None = None
    columns_raw: bytes | None = None
    maxrows: bool = False
    declared_encoding: str | None = None
    detail: bytearray = field(default_factory=bytearray)

    @property
    def reply(self) -> Reply | None:
        return self.status or self.opening


def _attribute(pattern: re.Pattern[bytes], attributes: bytes) -> str | None:
    match = pattern.search(attributes)
    if match is None:
        return None
    return (match.group(1) if match.group(1) is not None else match.group(2)).decode("utf-8", "replace")


def parse_delimiter(value: str | None) -> str:
    """The DELIMITER ``value`` (1 or 2 hex digits, spaces tolerated) as a character; TAB when absent."""
    if value is None:
        return TAB
    if not _HEX_OCTET.fullmatch(value.strip()):
        raise RetsProtocolError(f"Search response has DELIMITER value={value!r}, which is not a hex octet.")
    return chr(int(value, 16))


def _tag_reply(tag: bytes) -> Reply:
    reply = find_reply(tag)
    if reply is None:
        return Reply(SUCCESS, "")
    return Reply(reply.code, unescape_text(reply.text, RepairCounts()))


def _set_count(env: _Envelope, attributes: bytes) -> None:
    records = _attribute(_RECORDS, attributes)
    if records is not None and records.strip().isdigit():
        env.count = int(records)


def _set_delimiter(env: _Envelope, attributes: bytes) -> None:
    env.delimiter = parse_delimiter(_attribute(_VALUE, attributes))


def _set_maxrows(env: _Envelope, _attributes: bytes) -> None:
    env.maxrows = True


_ENVELOPE_TAGS = {b"COUNT": _set_count, b"DELIMITER": _set_delimiter, b"MAXROWS": _set_maxrows}


def _scan_envelope(env: _Envelope, buf: bytes, pos: int) -> tuple[str, int]:
    """Read envelope tags from ``buf[pos:]`` into ``env``.

    Returns why it stopped and where: ``_DATA`` (at a ``<DATA>``), ``_END`` (after the root closed),
    ``_MORE`` (needs more bytes; resume at the position), ``_OTHER`` (an element that is not part
    of a COMPACT envelope) or ``_NOT_RETS`` (the body is not a RETS reply).
    """
    while True:
        lt = buf.find(b"<", pos)
        text_end = len(buf) if lt < 0 else lt
        if text_end > pos and not buf[pos:text_end].isspace():
            if env.opening is None:
                return _NOT_RETS, pos
            if len(env.detail) < _DETAIL_LIMIT:
                env.detail += buf[pos:text_end]
        if lt < 0:
            return _MORE, len(buf)
        pos = lt
        if buf.startswith((b"<!--", b"<?"), pos):
            closing = b"-->" if buf.startswith(b"<!--", pos) else b"?>"
            end = buf.find(closing, pos)
            if end < 0:
                return _MORE, pos
            if env.opening is None and buf.startswith(b"<?xml", pos):
                env.declared_encoding = declared_xml_encoding(buf[pos : end + 2])
            pos = end + len(closing)
            continue
        if buf.startswith(b"<!", pos):
            if env.opening is not None:
                return _OTHER, pos
            if buf.startswith(b"<![CDATA[", pos):
                return _NOT_RETS, pos
            end = buf.find(b">", pos)  # a DOCTYPE
            if end < 0:
                return _MORE, pos
            pos = end + 1
            continue
        tag = _TAG.match(buf, pos)
        if tag is None:
            gt = buf.find(b">", pos)
            incomplete = gt < 0 or buf.count(b'"', pos, gt) % 2 or buf.count(b"'", pos, gt) % 2
            return (_MORE if incomplete else _OTHER), pos
        outcome, pos = _envelope_tag(env, buf, tag)
        if outcome != _CONTINUE:
            return outcome, pos


def _envelope_tag(env: _Envelope, buf: bytes, tag: re.Match[bytes]) -> tuple[str, int]:
    """Apply one tag to ``env``: ``_CONTINUE`` and where to go on, or why scanning stops there."""
    closing, name, attributes, self_closing = tag.groups()
    name = name.upper()
    if env.opening is None:
        if closing or name != b"RETS":
            return _NOT_RETS, tag.start()
        env.opening = _tag_reply(tag.group(0))
        return (_END if self_closing else _CONTINUE), tag.end()
    if closing:
        return (_END if name == b"RETS" else _CONTINUE), tag.end()
    if name == b"DATA":
        # Only the exact spelling is fast-path material; <data>, <DATA/> go to lxml.
        return (_DATA if tag.group(2) == b"DATA" and not self_closing else _OTHER), tag.start()
    if name == b"COLUMNS":
        return _read_columns(env, buf, tag)
    if name == b"RETS-STATUS":
        env.status = _tag_reply(tag.group(0))
        return _CONTINUE, tag.end()
    handler = _ENVELOPE_TAGS.get(name)
    if handler is None:
        return _OTHER, tag.start()
    handler(env, attributes)
    return _CONTINUE, tag.end()


def _read_columns(env: _Envelope, buf: bytes, tag: re.Match[bytes]) -> tuple[str, int]:
    if tag.group(4):
        env.columns_raw = b""
        return _CONTINUE, tag.end()
    end = buf.find(b"</COLUMNS>", tag.end())
    if end < 0:
        return _MORE, tag.start()
    env.columns_raw = buf[tag.end() : end]
    return _CONTINUE, end + len(b"</COLUMNS>")


# --- cells and records ----------------------------------------------------------------------------


def split_cells(text: AnyStr, delimiter: AnyStr) -> list[AnyStr]:
    """Split a COLUMNS/DATA text (or its bytes): drop one leading delimiter if present, then one
    trailing one if present, then split (protocol digest §5.2); keeps genuine empty first/last cells."""
    cells = text.split(delimiter)
    if len(cells) > 1:
        if not cells[0]:
            del cells[0]
        if len(cells) > 1 and not cells[-1]:
            cells.pop()
    return cells


def normalize_newlines(text: str) -> str:
    """XML end-of-line handling: raw CR LF and lone CR become LF (escaped ``&#xD;`` stays a CR)."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def column_names(text: str, delimiter: str) -> list[str]:
    return [name.strip() for name in split_cells(text, delimiter)]


def encode_record(record: dict[str, str]) -> bytes:
    """A record as one JSON line (UTF-8, keys in column order, newline-terminated)."""
    return orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE)


# What JSON must escape among the bytes a plain row can hold once its references are decoded (the
# block has no other control byte; references decode only to XML characters).
_JSON_ESCAPES = ((b"\\", b"\\\\"), (b'"', b'\\"'), (b"\n", b"\\n"), (b"\r", b"\\r"))
_TAB_ESCAPE = (b"\t", b"\\t")


# A record as escaped values: (its column names, :func:`retsctl.rets.values.encode_values` of its values,
# {field: value} of the fields asked for that it has).
JsonValues = tuple[tuple[str, ...], bytes, dict[str, str]]


@dataclass(frozen=True)
class JsonForm:
    """How records are handed out as JSON: lines (:func:`encode_record`), or, when ``fields`` is
    given, :data:`JsonValues` tuples."""

    fields: tuple[str, ...] | None = None

    def of_record(self, record: dict[str, str]) -> Any:
        if self.fields is None:
            return encode_record(record)
        values = {name: record[name] for name in self.fields if name in record}
        return _shared_columns(tuple(record)), encode_values(record.values()), values


@lru_cache(maxsize=64)
def _shared_columns(columns: tuple[str, ...]) -> tuple[str, ...]:
    """One tuple object for equal column lists, as the records of a page share (identity is cheap
    to check, and a pickle holds one copy)."""
    return columns


class JsonRowTemplate:
    """The JSON of a COMPACT row built from its UTF-8 bytes: escaped as orjson escapes, split on
    the delimiter, and joined with the encoded column names (a line equal to :func:`encode_record`
    of the row's record), or with TAB for delimiter (equal to :func:`retsctl.rets.values.encode_values`
    of its values). The values of ``form.fields`` are read back from their escaped cells, together
    as one JSON array."""

    def __init__(self, columns: list[str], delimiter: str, form: JsonForm) -> None:
        self.width = len(columns)
        self._delimiter = delimiter.encode(UTF8)
        self._escapes = _JSON_ESCAPES if delimiter == TAB else (*_JSON_ESCAPES, _TAB_ESCAPE)
        self._columns = tuple(columns)
        self._as_values = form.fields is not None
        self._pieces = [] if self._as_values else _line_pieces(columns)
        self._picked_names = [name for name in form.fields or () if name in columns]
        indexes = [columns.index(name) for name in self._picked_names]
        self._picked_cells = _cells_getter(indexes) if indexes else None
        self._cells_to_split = max(indexes, default=-1) + 1  # the picked cells are among the first ones

    @staticmethod
    def usable(columns: list[str], delimiter: str) -> bool:
        """Whether lines can be built this way: distinct names (a dict keeps one of each), and a
        delimiter of one byte that escaping neither adds nor removes (TAB, or printable ASCII
        other than letters, digits, quote and backslash; an escaped LF or CR would hide a split)."""
        plain = delimiter == TAB or (len(delimiter) == 1 and delimiter.isascii() and delimiter.isprintable()
                                      and not delimiter.isalnum() and delimiter not in '"\\')
        return bool(columns) and len(set(columns)) == len(columns) and plain

    def line(self, data: bytes) -> Any:
        """The JSON (in the template's form) of a row whose references are decoded and whose bytes
        are valid UTF-8; None when its cells do not match the columns (the record path counts and
        fixes that)."""
        for raw, escaped in self._escapes:
            if raw in data:
                data = data.replace(raw, escaped)
        if self._as_values:
            return self._values_text(data)
        cells = split_cells(data, self._delimiter)
        if len(cells) != self.width:
            return None
        pieces = self._pieces.copy()
        pieces[1::2] = cells
        return b"".join(pieces)

    def _values_text(self, data: bytes) -> JsonValues | None:
        """The escaped row as :data:`JsonValues` without a bytes object per cell: the cells are
        counted (as :func:`split_cells` splits), and only the cells up to the last picked one split
        off; a TAB delimiter stays as it is, another becomes TAB (escaping turned TABs into ``\\t``)."""
        delimiter = self._delimiter
        count = data.count(delimiter) + 1
        if count > 1 and data.startswith(delimiter):
            data, count = data[1:], count - 1
        if count > 1 and data.endswith(delimiter):
            data, count = data[:-1], count - 1
        if count != self.width:
            return None
        values = {} if self._picked_cells is None else self._values(data.split(delimiter, self._cells_to_split))
        return self._columns, data if delimiter == SEPARATOR else data.replace(delimiter, SEPARATOR), values

    def _values(self, cells: list[bytes]) -> dict[str, str]:
        """The picked fields' values: their escaped cells read back as one JSON array."""
        assert self._picked_cells is not None
        array = b'["' + b'","'.join(self._picked_cells(cells)) + b'"]'
        return dict(zip(self._picked_names, orjson.loads(array)))  # noqa: B905 (one value a name, by construction)


def _line_pieces(columns: list[str]) -> list[bytes | None]:
    """A JSON line's fixed pieces (``{"name":"`` and ``","name":"``) with a gap for each cell."""
    pieces: list[bytes | None] = []
    for n, name in enumerate(columns):
        pieces += (b'",' if n else b"{") + orjson.dumps(name) + b':"', None
    pieces.append(b'"}\n')
    return pieces


def _cells_getter(indexes: list[int]) -> Callable[[list[bytes]], Sequence[bytes]]:
    """The cells at ``indexes`` (at least one), always as a sequence (``itemgetter`` of one index
    returns the item itself)."""
    if len(indexes) == 1:
        only = indexes[0]
        return lambda cells: (cells[only],)
    return itemgetter(*indexes)


_WRAPPER = re.compile(r"RETS-RESPONSE|RE[A-Z][a-z]\w*")
_NOT_RECORDS = {"COUNT", "DELIMITER", "COLUMNS", "DATA", "MAXROWS", "RETS-STATUS", "PAGINATION"}


def local_name(tag: str) -> str:
    return tag.rpartition("}")[2]


def flatten_record(element: etree._Element) -> dict[str, str]:
    """One STANDARD-XML record as a flat dict (see the module docstring for the key scheme)."""
    record: dict[str, str] = {}
    _flatten_into(record, element, "")
    return record


def _flatten_into(record: dict[str, str], element: etree._Element, path: str) -> None:
    for name, value in element.attrib.items():
        record[f"{path}@{local_name(name)}"] = value
    children = [child for child in element if isinstance(child.tag, str)]
    if not children:
        record[path or local_name(element.tag)] = "".join(element.itertext())
        return
    seen: dict[str, int] = {}
    for child in children:
        name = local_name(child.tag)
        seen[name] = seen.get(name, 0) + 1
        step = name if seen[name] == 1 else f"{name}[{seen[name]}]"
        _flatten_into(record, child, f"{path}/{step}" if path else step)


def _free(element: etree._Element) -> None:
    element.clear(keep_tail=True)
    parent = element.getparent()
    if parent is not None:
        while element.getprevious() is not None:
            del parent[0]


# --- the reader -----------------------------------------------------------------------------------


class SearchReader:
    """One Search response body, read as a stream of records (``dict`` of column → string).

    ``read_header()`` (called by iteration if needed) reads up to the first row: afterwards
    ``count``, ``columns``, ``delimiter``, ``encoding`` and ``reply`` (the opening reply) are set,
    and failing replies have raised their typed error (20201 is an empty result, 20208 sets
    ``maxrows``). After iteration ``rows``, ``maxrows`` and ``reply`` (a trailing RETS-STATUS wins)
    are final. Every repair is added to ``repairs``. ``careful=True`` skips the fast path.
    An HTML page, a non-RETS body or a truncated one raises ``RetsProtocolError``.
    """

    def __init__(
        self,
        chunks: Iterable[bytes],
        *,
        format: str = "COMPACT-DECODED",
        content_type: str | None = None,
        repairs: RepairCounts | None = None,
        careful: bool = False,
    ) -> None:
        self.format = format.upper()
        self.content_type = content_type
        self.repairs = repairs if repairs is not None else RepairCounts()
        self.careful = careful or self.format.startswith("STANDARD-XML")
        self.count: int | None = None
        self.columns: list[str] = []
        self.delimiter = TAB
        self.encoding = UTF8
        self.maxrows = False
        self.reply: Reply | None = None
        self.rows = 0
        self.used_careful_path = False
        self._chunks = chunks
        self._source: Iterator[bytes] = iter(())
        self._decoder = TextDecoder(UTF8, self.repairs)
        self._env = _Envelope()
        self._header_read = False
        self._iterated = False
        self._head = b""
        self._pending = b""
        self._outcome = _END
        self._blank: dict[str, str] = {}
        self._blank_columns: list[str] | None = None
        self._template: JsonRowTemplate | None = None
        self._template_key: tuple[tuple[str, ...], str, JsonForm] | None = None

    # -- header ---------------------------------------------------------------------------------

    def read_header(self) -> None:
        """Read the envelope up to the first row; raises the typed error of a failing reply."""
        if self._header_read:
            return
        self._header_read = True
        self._source, transcoded = utf8_chunks(self._chunks)
        buf, pos, outcome = self._scan_head()
        encoding = resolve_encoding(self._env.declared_encoding, self.content_type)
        self.encoding = UTF8 if transcoded else encoding
        self._decoder = TextDecoder(self.encoding, self.repairs)
        if outcome == _NOT_RETS:
            raise _not_rets_error(buf)
        opening = self._env.opening
        if opening is not None and opening.code not in _OK_CODES and outcome != _END:
            self.reply = opening
            self._raise_for_reply()
        if opening is None or outcome == _MORE:
            raise RetsProtocolError(f"{TRANSACTION} response ended before its envelope was complete (truncated body).")
        self._outcome = outcome
        self._head, self._pending = buf[:pos], buf[pos:]
        self._apply_envelope()
        if outcome == _END:
            self._raise_for_reply()

    def _scan_head(self) -> tuple[bytes, int, str]:
        buf = b""
        pos = 0
        while True:
            outcome, pos = _scan_envelope(self._env, buf, pos)
            if outcome != _MORE:
                return buf, pos, outcome
            if len(buf) > _HEAD_LIMIT:
                return buf, pos, (_OTHER if self._env.opening is not None else _NOT_RETS)
            chunk = next(self._source, None)
            if chunk is None:
                return buf, pos, (_MORE if buf.strip() else _NOT_RETS)
            buf += chunk

    def _raise_for_reply(self) -> None:
        """Raise the typed error of a failing reply, with any text the server put inside <RETS>."""
        reply = self.reply
        if reply is not None and reply.code not in _OK_CODES:
            detail = self._decoder.decode(bytes(self._env.detail)).strip()
            raise reply_error(reply.code, reply.text, transaction=TRANSACTION, detail=detail)

    def _apply_envelope(self) -> None:
        env = self._env
        self.reply = env.reply
        self.count = env.count
        self.delimiter = env.delimiter or TAB
        self.maxrows = self.maxrows or env.maxrows or self._reply_code() == MAX_RECORDS_EXCEEDED
        if env.columns_raw is not None and not self.columns:
            self.columns = column_names(self._decode_text(env.columns_raw), self.delimiter)

    def _reply_code(self) -> int:
        return self.reply.code if self.reply is not None else SUCCESS

    def _decode_text(self, raw: bytes) -> str:
        if has_control_bytes(raw):
            raw = remove_control_bytes(raw, self.repairs)
        return self._decode_markup(self._decoder.decode(raw), 0, b"<" in raw)

    # -- records --------------------------------------------------------------------------------

    def __iter__(self) -> Iterator[dict[str, str]]:
        return self._read(None)

    def json_lines(self) -> Iterator[bytes]:
        """The records as JSON lines, each equal to :func:`encode_record` of the record iteration
        would give; plain COMPACT rows never become a dict (see the module docstring)."""
        return self._read(JsonForm())

    def json_values_with(self, fields: Iterable[str]) -> Iterator[JsonValues]:
        """Each record as :data:`JsonValues`: its columns, its escaped values, those of ``fields``."""
        return self._read(JsonForm(tuple(fields)))

    def _read(self, form: JsonForm | None) -> Iterator[Any]:
        self.read_header()
        if self._iterated:
            raise RuntimeError("a SearchReader can be read only once")
        self._iterated = True
        if self._outcome == _END:
            return
        if self.careful or self._outcome == _OTHER:
            yield from _encoded(self._careful_records(self._head, chain([self._pending], self._source)), form)
            return
        try:
            yield from self._fast_records(form)
        except _SwitchToCareful as switch:
            yield from _encoded(self._careful_records(self._head, chain([switch.remaining], self._source)), form)

    def _fast_records(self, form: JsonForm | None) -> Iterator[Any]:
        if not self.columns and self._env.columns_raw is None:
            raise RetsProtocolError(f"{TRANSACTION} response has DATA rows but no COLUMNS.")
        buf = self._pending
        self._pending = b""
        while True:
            cut = buf.rfind(_DATA_CLOSE)
            if cut >= 0:
                rest = buf[cut + _CLOSE_LENGTH :]
                try:
                    yield from self._block_records(buf, cut, form)
                except _SwitchToCareful as switch:
                    raise _SwitchToCareful(switch.remaining + rest) from None
                buf = rest
            elif len(buf) > _ROW_LIMIT:
                raise RetsProtocolError(f"{TRANSACTION} response has a DATA row over {_ROW_LIMIT >> 20} MiB.")
            chunk = next(self._source, None)
            if chunk is None:
                break
            buf += chunk
        self._finish_tail(buf)

    def _block_records(self, buf: bytes, cut: int, form: JsonForm | None) -> Iterator[Any]:
        """Records (or JSON lines) of the rows in ``buf[:cut]``; each row ends at a ``</DATA>``,
        the last one at ``cut``.

        Rows are found with ``bytes.find`` of ``<`` (memchr): in a plain row the only ``<`` are
        its own tags. Most rows of a UTF-8 body take :func:`_plain_text` (or, as JSON,
        :func:`_plain_json`); the rest (and every row of another encoding) take
        :meth:`_repaired_text`. What whole blocks lack is checked once.
        """
        find = buf.find
        controls = has_control_bytes(buf)
        crs = b"\r" in buf
        plain = self.encoding == UTF8 and not has_utf8_noncharacters(buf)
        template = self._json_template(form) if form is not None and plain and not controls else None
        delimiter = self.delimiter
        pos = 0
        while True:
            start = find(b"<", pos, cut)
            if not (buf.startswith(_DATA_OPEN, start) and (start == pos or buf[pos:start].isspace())):
                start = self._row_start(buf, pos, cut)
            start += _OPEN_LENGTH
            end = find(b"<", start, cut)
            stray_lt = end >= 0 and not buf.startswith(_DATA_CLOSE, end)
            if stray_lt:
                end = find(_DATA_CLOSE, end, cut)
            if end < 0:
                end = cut
            row = self.rows + 1
            line = _plain_json(buf, start, end, crs, template) if template is not None and not stray_lt else None
            if line is not None:
                self.rows = row
                yield line
            else:
                text = _plain_text(buf, start, end, controls=controls, crs=crs) if plain and not stray_lt else None
                if text is None:
                    raw = buf[start:end]
                    if stray_lt and any(marker in raw for marker in _PROTECTED_START):
                        raise _SwitchToCareful(buf[pos:cut] + _DATA_CLOSE)
                    text = self._repaired_text(raw, row, stray_lt, controls)
                record = self._record(split_cells(text, delimiter), row)
                yield form.of_record(record) if form is not None else record
            if end == cut:
                return
            pos = end + _CLOSE_LENGTH

    def _json_template(self, form: JsonForm) -> JsonRowTemplate | None:
        """The template for the current columns, or None when they cannot be built that way."""
        key = (tuple(self.columns), self.delimiter, form)
        if self._template_key != key:
            self._template_key = key
            usable = JsonRowTemplate.usable(self.columns, self.delimiter)
            self._template = JsonRowTemplate(self.columns, self.delimiter, form) if usable else None
        return self._template

    def _row_start(self, buf: bytes, pos: int, cut: int) -> int:
        """Where the ``<DATA>`` of the row piece at ``pos`` starts, when something other than
        whitespace precedes it: comments or envelope tags are read; anything else switches paths."""
        end = buf.find(_DATA_CLOSE, pos, cut)
        start = buf.find(_DATA_OPEN, pos, cut if end < 0 else end)
        if start < 0 or not (buf[pos:start].isspace() or self._is_envelope_gap(buf[pos:start])):
            raise _SwitchToCareful(buf[pos:cut] + _DATA_CLOSE)
        return start

    def _repaired_text(self, raw: bytes, row: int, stray_lt: bool, controls: bool) -> str:
        """The text of one row, decoded with every repair it needs."""
        if controls and has_control_bytes(raw):
            raw = remove_control_bytes(raw, self.repairs, row)
        text = self._decoder.decode(raw, row)
        if stray_lt or b"&" in raw or b"\r" in raw:
            text = self._decode_markup(text, row, stray_lt)
        return text

    def _is_envelope_gap(self, gap: bytes) -> bool:
        """Comments or envelope tags (MAXROWS…) between two rows."""
        return _scan_envelope(self._env, gap, 0) == (_MORE, len(gap))

    def _decode_markup(self, text: str, row: int, stray_lt: bool) -> str:
        """Character data as an XML parser returns it: raw ``<`` kept (counted), line ends
        normalised, references decoded."""
        if stray_lt:
            count_stray_lt(text, self.repairs, row)
        if "\r" in text:
            text = normalize_newlines(text)
        return unescape_text(text, self.repairs, row) if "&" in text else text

    def _record(self, cells: list[str], row: int) -> dict[str, str]:
        """Row ``row`` as a record; missing cells are empty, extra ones dropped (both counted)."""
        columns = self.columns
        if len(cells) != len(columns):
            self.repairs.note("cell_count_mismatches", 1, row)
            cells = cells[: len(columns)] + [""] * (len(columns) - len(cells))
        self.rows = row
        if self._blank_columns is not columns:
            self._blank_columns = columns
            self._blank = dict.fromkeys(columns, "")
        # Filling a copy of a dict that already has every key is cheaper than growing a new one.
        record = self._blank.copy()
        record.update(zip(columns, cells, strict=True))
        return record

    def _finish_tail(self, buf: bytes) -> None:
        """Read what follows the last row (MAXROWS, RETS-STATUS, the end tag)."""
        pos = 0
        while True:
            outcome, pos = _scan_envelope(self._env, buf, pos)
            if outcome == _OTHER:
                pos = buf.find(b">", pos) + 1 or len(buf)  # unknown tag after the rows: ignored
                continue
            break
        if outcome != _END:
            raise self._truncated()
        self._finish_envelope()

    def _finish_envelope(self) -> None:
        self._apply_envelope()
        self._raise_for_reply()

    def _truncated(self) -> RetsProtocolError:
        return RetsProtocolError(
            f"{TRANSACTION} response ended early after {self.rows} records (truncated body).",
            hint="Retry the page; if it keeps happening, ask for fewer records per page.",
        )

    # -- the careful path -----------------------------------------------------------------------

    def _careful_records(self, head: bytes, rest: Iterable[bytes]) -> Iterator[dict[str, str]]:
        """Records read by lxml from ``head`` (already counted: its repairs are not recounted)
        followed by ``rest``."""
        self.used_careful_path = True
        scratch = RepairCounts()
        head_stream = XmlRepairStream([head], TextDecoder(self.encoding, scratch), scratch)
        body_stream = XmlRepairStream(rest, self._decoder, self.repairs, first_row=self.rows + 1)
        parser = etree.XMLPullParser(
            events=("end",), recover=True, huge_tree=True, encoding=UTF8, resolve_entities=False, no_network=True
        )
        for data in chain(head_stream, body_stream):
            parser.feed(data)
            yield from self._careful_events(parser.read_events())
        if not body_stream.complete:
            raise self._truncated()
        try:
            parser.close()
        except etree.XMLSyntaxError as error:
            raise RetsProtocolError(f"{TRANSACTION} response is not readable XML: {error}") from None
        yield from self._careful_events(parser.read_events())
        self._finish_envelope()

    def _careful_events(self, events: Iterable[tuple[str, etree._Element]]) -> Iterator[dict[str, str]]:
        for _event, element in events:
            parent = element.getparent()
            if parent is not None and not _holds_records(parent):
                continue  # inside a record: kept until the record ends
            name = local_name(element.tag)
            envelope_name = name.upper()
            if envelope_name == "DATA":
                yield self._careful_row(element)
            elif envelope_name in _NOT_RECORDS or parent is None:
                self._careful_envelope(envelope_name, element)
            elif _WRAPPER.fullmatch(name) is None and self._env.columns_raw is None and not self.columns:
                self.rows += 1
                yield flatten_record(element)
            _free(element)

    def _careful_row(self, element: etree._Element) -> dict[str, str]:
        if not self.columns:
            raise RetsProtocolError(f"{TRANSACTION} response has DATA rows but no COLUMNS.")
        return self._record(split_cells("".join(element.itertext()), self.delimiter), self.rows + 1)

    def _careful_envelope(self, name: str, element: etree._Element) -> None:
        attributes = {key.lower(): value for key, value in element.attrib.items()}
        env = self._env
        if name == "COUNT" and attributes.get("records", "").strip().isdigit():
            env.count = int(attributes["records"])
        elif name == "DELIMITER":
            self.delimiter = env.delimiter = parse_delimiter(attributes.get("value"))
        elif name == "COLUMNS":
            self.columns = column_names("".join(element.itertext()), self.delimiter)
        elif name == "MAXROWS":
            env.maxrows = True
        elif name == "RETS-STATUS" and attributes.get("replycode", "").strip().lstrip("-").isdigit():
            env.status = Reply(int(attributes["replycode"]), attributes.get("replytext", ""))


def _plain_text(buf: bytes, start: int, end: int, *, controls: bool, crs: bool) -> str | None:
    """The UTF-8 row ``buf[start:end]`` as text when it needs no repair: line ends normalised and
    references decoded as bytes, then one ``decode``. None when it needs repairs after all (control
    bytes, invalid UTF-8, a reference not known yet). ``controls``/``crs``: whether the block
    holds any control byte or CR at all."""
    if controls and has_control_bytes(buf[start:end]):
        return None
    data = _plain_bytes(buf, start, end, crs)
    if data is None:
        return None
    try:
        return data.decode(UTF8)
    except UnicodeDecodeError:
        return None


def _plain_json(buf: bytes, start: int, end: int, crs: bool, template: JsonRowTemplate) -> Any:
    """The JSON line of the row ``buf[start:end]`` of a block without control bytes, when it needs
    no repair (as :func:`_plain_text`); the bytes are only checked to be UTF-8, never decoded."""
    data = _plain_bytes(buf, start, end, crs)
    if data is None:
        return None
    if not data.isascii():
        try:
            data.decode(UTF8)
        except UnicodeDecodeError:
            return None
    return template.line(data)


def _plain_bytes(buf: bytes, start: int, end: int, crs: bool) -> bytes | None:
    """The row's bytes with line ends normalised and references decoded (None: a reference or
    ampersand needs the repairing path)."""
    if crs and buf.find(b"\r", start, end) >= 0:
        # Before references are decoded: an escaped CR stays a CR.
        raw = buf[start:end].replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        return unescape_utf8(raw, 0, len(raw))
    return unescape_utf8(buf, start, end)


def _encoded(records: Iterator[dict[str, str]], form: JsonForm | None) -> Iterator[Any]:
    return map(form.of_record, records) if form is not None else records


def _holds_records(parent: etree._Element) -> bool:
    """Whether the children of ``parent`` are records: it is the root or a wrapper."""
    return parent.getparent() is None or _WRAPPER.fullmatch(local_name(parent.tag)) is not None


def _not_rets_error(buf: bytes) -> RetsProtocolError:
    if not buf.strip():
        return RetsProtocolError(f"{TRANSACTION} response is empty.", hint="Retry; the server sent no body.")
    if looks_like_html(buf):
        return RetsProtocolError(
            f"{TRANSACTION} returned an HTML page instead of a RETS reply.",
            hint="Check the Search URL from the login response; a proxy or login portal may be in the way.",
        )
    start = buf.lstrip()[:60].decode("utf-8", "replace")
    return RetsProtocolError(f"{TRANSACTION} response is not a RETS reply (it starts with {start!r}).")
