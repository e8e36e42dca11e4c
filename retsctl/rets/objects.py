"""GetObject replies: a single raw object or a lenient, streaming ``multipart/*`` reader.

Tolerates what real servers send (protocol digest §7.2-7.4, §12): quoted or unquoted boundaries
with parameters after them, no preamble, CRLF or bare LF, header lines without a space after the
colon or continued without folding whitespace, ``Description:`` for ``Content-Description:``,
Location=1 parts with empty or tiny XML bodies, per-part Content-Length, and a last part cut off by
the connection (returned with ``truncated=True``). Per-object failures (text/xml RETS replies,
``RETS-Error: 1``, text/plain "not found" prose) land in ``RetsObject.error``; nothing is raised, so
one missing photo never stops a batch. Parts are produced one at a time while the body streams in;
only the current part is held in memory.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from retsctl.rets.replies import NO_OBJECT, RetsReplyError, find_reply, reply_error

_TRANSACTION = "GetObject"
_BOUNDARY = re.compile(r"""boundary\s*=\s*(?:"([^"]*)"|([^;\s]+))""", re.IGNORECASE)
_HEADER_LINE = re.compile(rb"^([A-Za-z0-9!#$%&'*+.^_`|~-]+)[ \t]*:[ \t]*(.*)$")
_NOT_FOUND_TEXT = re.compile(rb"not\s+found|no\s+object|does\s+not\s+exist", re.IGNORECASE)
_OBJECT_DATA_SPLIT = re.compile(r",\s*(?=[A-Za-z0-9_.-]+=)")
_MISC_OBJECT_ERROR = 20413
# Enough of an unexpected non-multipart body to recognise a RETS error reply in it.
_PREAMBLE_LIMIT = 64 * 1024


@dataclass
class RetsObject:
    """One object of a GetObject reply (or the error standing in its place).

    ``headers`` are the part's headers as sent (repeated headers joined with ", "); ``object_data``
    the RETS 1.8 ``ObjectData: Name=Value`` headers; ``preferred`` is the ``Preferred`` header or
    an Object-ID of 0 (the preferred-object answer).
    """

    content_id: str
    object_id: str
    content_type: str
    location: str | None
    description: str | None
    preferred: bool
    headers: dict[str, str]
    data: bytes
    error: RetsReplyError | None = None
    sub_description: str | None = None
    object_data: dict[str, str] = field(default_factory=dict)
    truncated: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None


def read_objects(content_type: str, headers: Mapping[str, str], chunks: Iterable[bytes]) -> Iterator[RetsObject]:
    """The objects of one GetObject reply body, yielded as they stream in.

    ``content_type`` and ``headers`` are the HTTP response's; ``chunks`` the body (e.g.
    ``response.iter_content(65536)``). A single-object reply becomes one object described by the
    HTTP headers.
    """
    if content_type.strip().lower().startswith("multipart/"):
        return _MultipartReader(chunks, _boundary(content_type)).objects()
    header_pairs = [(name, value) for name, value in headers.items()]
    if not any(name.lower() == "content-type" for name, _ in header_pairs):
        header_pairs.append(("Content-Type", content_type))
    return iter([_build_object(header_pairs, b"".join(chunks), truncated=False)])


def _boundary(content_type: str) -> str | None:
    match = _BOUNDARY.search(content_type)
    if match is None:
        return None
    return match.group(1) if match.group(1) is not None else match.group(2)


class _MultipartReader:
    """Incremental multipart parser over an iterator of byte chunks."""

    def __init__(self, chunks: Iterable[bytes], boundary: str | None) -> None:
        self._chunks = iter(chunks)
        self._buffer = bytearray()
        self._eof = False
        self._delimiter = b"--" + boundary.encode("latin-1") if boundary else None
        self._preamble = bytearray()

    def objects(self) -> Iterator[RetsObject]:
        if not self._skip_preamble():
            yield from self._non_multipart_reply()
            return
        while self._after_delimiter():
            header_pairs, complete = self._read_headers()
            if not complete:
                if header_pairs:
                    yield _build_object(header_pairs, b"", truncated=True)
                return
            data, complete = self._read_body(_content_length(header_pairs))
            yield _build_object(header_pairs, data, truncated=not complete)
            if not complete:
                return

    # -- buffer ----------------------------------------------------------------------------------

    def _more(self) -> bool:
        """Append the next non-empty chunk to the buffer; False at the end of the body."""
        if self._eof:
            return False
        for chunk in self._chunks:
            if chunk:
                self._buffer += chunk
                return True
        self._eof = True
        return False

    def _consume(self, count: int) -> bytes:
        taken = bytes(self._buffer[:count])
        del self._buffer[:count]
        return taken

    # -- structure -------------------------------------------------------------------------------

    def _skip_preamble(self) -> bool:
        """Drop everything before the first delimiter line; False when there is none."""
        if self._delimiter is None and not self._sniff_delimiter():
            return False
        assert self._delimiter is not None
        while True:
            found = self._find_delimiter(0)
            if found is not None:
                del self._buffer[:found]
                return True
            keep = len(self._delimiter) + 1
            if len(self._buffer) > keep and len(self._preamble) < _PREAMBLE_LIMIT:
                self._preamble += self._buffer[: len(self._buffer) - keep]
            del self._buffer[: max(0, len(self._buffer) - keep)]
            if not self._more():
                self._preamble += self._buffer
                return False

    def _sniff_delimiter(self) -> bool:
        """No boundary parameter: take it from the first ``--…`` line of the body."""
        while b"\n" not in self._buffer.lstrip(b"\r\n") and self._more():
            pass
        first_line = bytes(self._buffer.lstrip(b"\r\n").split(b"\n", 1)[0].rstrip(b"\r"))
        if first_line.startswith(b"--") and len(first_line) > 2:
            self._delimiter = first_line
            return True
        self._preamble += self._buffer[:_PREAMBLE_LIMIT]
        return False

    def _find_delimiter(self, start: int) -> int | None:
        """Index of the next delimiter that starts a line at or after ``start`` (None: need more data)."""
        assert self._delimiter is not None
        position = start
        while True:
            index = self._buffer.find(self._delimiter, position)
            if index < 0:
                return None
            at_line_start = index == 0 or self._buffer[index - 1 : index] == b"\n"
            after = self._buffer[index + len(self._delimiter) : index + len(self._delimiter) + 1]
            if at_line_start and (after in (b"-", b"\r", b"\n", b" ", b"\t") or (not after and self._eof)):
                return index
            if at_line_start and not after:
                return None
            position = index + 1

    def _after_delimiter(self) -> bool:
        """Step over the delimiter line at the buffer start; False at the close delimiter or the end."""
        assert self._delimiter is not None
        while len(self._buffer) < len(self._delimiter) + 2 and self._more():
            pass
        del self._buffer[: len(self._delimiter)]
        if self._buffer.startswith(b"--"):
            return False
        while b"\n" not in self._buffer:
            if not self._more():
                return False
        del self._buffer[: self._buffer.index(b"\n") + 1]
        return True

    def _read_headers(self) -> tuple[list[tuple[str, str]], bool]:
        """Header lines up to the blank line; a line without ``Name:`` continues the previous one."""
        assert self._delimiter is not None
        pairs: list[tuple[str, str]] = []
        while True:
            if self._buffer.startswith(self._delimiter):
                # A part with no blank line and no body: the next delimiter follows its headers.
                return pairs, True
            if b"\n" not in self._buffer:
                if not self._more():
                    return pairs, False
                continue
            line = self._consume(self._buffer.index(b"\n") + 1).rstrip(b"\r\n")
            if not line.strip():
                return pairs, True
            _add_header_line(pairs, line)

    def _read_body(self, content_length: int | None) -> tuple[bytes, bool]:
        """The part body up to the next delimiter; ``(data, False)`` when the stream ended first."""
        if content_length is not None:
            exact = self._body_by_length(content_length)
            if exact is not None:
                return exact, True
        return self._body_by_delimiter()

    def _body_by_length(self, length: int) -> bytes | None:
        """Trust Content-Length only when the delimiter really follows it; else fall back to scanning."""
        assert self._delimiter is not None
        needed = length + 2 + len(self._delimiter) + 1
        while len(self._buffer) < needed and self._more():
            pass
        rest = self._buffer[length : length + 2 + len(self._delimiter)]
        for separator in (b"\r\n", b"\n", b""):
            if rest.startswith(separator + self._delimiter):
                data = self._consume(length)
                del self._buffer[: len(separator)]
                return data
        return None

    def _body_by_delimiter(self) -> tuple[bytes, bool]:
        assert self._delimiter is not None
        data = bytearray()
        while True:
            found = self._find_delimiter(0)
            if found is not None:
                end = found
                if end > 0 and self._buffer[end - 1 : end] == b"\n":
                    end -= 2 if end > 1 and self._buffer[end - 2 : end - 1] == b"\r" else 1
                data += self._consume(end)
                del self._buffer[: found - end]
                return bytes(data), True
            # Keep a tail long enough to hold a delimiter split across chunks (plus its CRLF).
            keep = len(self._delimiter) + 2
            if len(self._buffer) > keep:
                data += self._consume(len(self._buffer) - keep)
            if not self._more():
                data += self._consume(len(self._buffer))
                return bytes(data), False

    def _non_multipart_reply(self) -> Iterator[RetsObject]:
        """A multipart content type but no parts: usually a whole-request RETS error reply."""
        body = bytes(self._preamble)
        reply = find_reply(body)
        if reply is not None and not reply.ok:
            error = reply_error(reply.code, reply.text, transaction=_TRANSACTION)
            yield RetsObject("", "", "text/xml", None, None, False, {}, body, error=error)


def _add_header_line(pairs: list[tuple[str, str]], line: bytes) -> None:
    match = _HEADER_LINE.match(line)
    if match is None or line[:1] in (b" ", b"\t"):
        if pairs:
            name, value = pairs[-1]
            pairs[-1] = (name, f"{value} {_text(line).strip()}".strip())
        return
    pairs.append((_text(match.group(1)), _text(match.group(2)).strip()))


def _text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _header(pairs: list[tuple[str, str]], *names: str) -> str | None:
    wanted = {name.lower() for name in names}
    return next((value for name, value in pairs if name.lower() in wanted), None)


def _content_length(pairs: list[tuple[str, str]]) -> int | None:
    value = _header(pairs, "Content-Length")
    return int(value) if value is not None and value.strip().isdigit() else None


def _build_object(pairs: list[tuple[str, str]], data: bytes, *, truncated: bool) -> RetsObject:
    content_type = _header(pairs, "Content-Type") or ""
    if (_header(pairs, "Content-Transfer-Encoding") or "").strip().lower() == "base64":
        data = _decode_base64(data)
    object_id = (_header(pairs, "Object-ID") or "").strip()
    headers: dict[str, str] = {}
    for name, value in pairs:
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return RetsObject(
        content_id=(_header(pairs, "Content-ID") or "").strip(),
        object_id=object_id,
        content_type=content_type.strip(),
        location=_header(pairs, "Location"),
        description=_header(pairs, "Content-Description", "Description"),
        preferred=(_header(pairs, "Preferred") or "").strip() == "1" or object_id == "0",
        headers=headers,
        data=data,
        error=_object_error(pairs, content_type, data),
        sub_description=_header(pairs, "Content-Sub-Description"),
        object_data=_object_data(pairs),
        truncated=truncated,
    )


def _decode_base64(data: bytes) -> bytes:
    try:
        return base64.b64decode(data)
    except binascii.Error:
        return data


def _object_data(pairs: list[tuple[str, str]]) -> dict[str, str]:
    values: dict[str, str] = {}
    for name, value in pairs:
        if name.lower() == "objectdata":
            # Repeated headers may arrive joined with ", " by the HTTP layer.
            for item in _OBJECT_DATA_SPLIT.split(value):
                key, _, item_value = item.partition("=")
                values[key.strip()] = item_value.strip()
    return values


def _object_error(pairs: list[tuple[str, str]], content_type: str, data: bytes) -> RetsReplyError | None:
    """The per-object failure a part reports, if any (a success XML on a Location part is not one)."""
    media_type = content_type.split(";", 1)[0].strip().lower()
    flagged = (_header(pairs, "RETS-Error") or "").strip() == "1"
    if flagged or media_type in ("text/xml", "application/xml"):
        reply = find_reply(data)
        if reply is not None:
            return None if reply.ok else reply_error(reply.code, reply.text, transaction=_TRANSACTION)
        if flagged:
            return reply_error(_MISC_OBJECT_ERROR, _text(data).strip(), transaction=_TRANSACTION)
    if media_type == "text/plain" and _NOT_FOUND_TEXT.search(data[:1024]):
        return reply_error(NO_OBJECT, _text(data).strip(), transaction=_TRANSACTION)
    return None
