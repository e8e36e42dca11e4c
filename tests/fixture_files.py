"""Load the captured RETS responses under ``shared/fixtures/rets`` as status + headers + body.

Every storage form MANIFEST.md describes is unwrapped here, so tests see the bytes a server sent:
full HTTP captures, libRETS bare-status-code captures, chunked framing left inside a body, the PHRETS
JSON-string multipart, 5150brien files with literal escape text, raw multipart bodies without outer
headers, and the estately VCR cassette (``load_cassette``).
"""

from __future__ import annotations

import base64
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from requests.structures import CaseInsensitiveDict


def _fixture_root() -> Path:
    beside_repo = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "rets"
    if beside_repo.is_dir():
        return beside_repo
    from_env = os.environ.get("RETSCTL_FIXTURES")
    return Path(from_env) if from_env else Path("/work/shared/fixtures/rets")


FIXTURES = _fixture_root()
MANIFEST = "MANIFEST.md"


@dataclass
class FixtureResponse:
    """One captured response. ``status`` is None when the file holds a body only.

    ``headers`` are the captured headers as stored (case-insensitive lookups); a
    ``Transfer-Encoding: chunked`` or ``Content-Encoding: gzip`` header may remain although
    ``body`` is already the de-framed, decoded payload.
    """

    status: int | None
    headers: CaseInsensitiveDict[str]
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "")


@dataclass
class CassetteInteraction:
    """One request/response pair of a VCR cassette."""

    method: str
    uri: str
    request_headers: CaseInsensitiveDict[list[str]]
    request_body: str
    response: FixtureResponse
    response_header_lists: CaseInsensitiveDict[list[str]] = field(default_factory=CaseInsensitiveDict)


def all_fixtures() -> list[str]:
    """Every fixture file's path relative to the fixture root (MANIFEST.md excluded), sorted."""
    return sorted(
        path.relative_to(FIXTURES).as_posix()
        for path in FIXTURES.rglob("*")
        if path.is_file() and path.name != MANIFEST
    )


def fixture_path(relpath: str) -> Path:
    return FIXTURES / relpath


def load_fixture(relpath: str) -> FixtureResponse:
    """The response stored in ``relpath``, unwrapped to real bytes (see the module docstring)."""
    raw = fixture_path(relpath).read_bytes()
    if relpath.startswith("5150brien-retsdk/"):
        raw = _unescape_literal_escapes(raw)
    if raw.startswith(b'"') and raw.rstrip().endswith(b'"'):
        raw = json.loads(raw).encode("latin-1")
    status_match = _STATUS_LINE.match(raw)
    if status_match:
        return _parse_capture(raw, int(status_match.group(1)))
    boundary = _leading_boundary(raw)
    if boundary:
        headers = CaseInsensitiveDict({"Content-Type": f'multipart/parallel; boundary="{boundary}"'})
        return FixtureResponse(None, headers, raw)
    return FixtureResponse(None, CaseInsensitiveDict(), raw)


# "HTTP/1.1 200 OK" in full captures, a bare "200" in libRETS get-object-response files.
_STATUS_LINE = re.compile(rb"^(?:HTTP/\d\.\d\s+)?(\d{3})\b[^\r\n]*\r?\n")
_HEADER_END = re.compile(rb"\r?\n\r?\n")
_LITERAL_ESCAPES = {rb"\t": b"\t", rb"\r": b"\r", rb"\n": b"\n"}


def _unescape_literal_escapes(raw: bytes) -> bytes:
    return re.sub(rb"\\[trn]", lambda m: _LITERAL_ESCAPES[m.group(0)], raw)


def _leading_boundary(raw: bytes) -> str | None:
    first_line = raw.lstrip(b"\r\n").split(b"\n", 1)[0].rstrip(b"\r")
    # A delimiter line comes back at least once more (next part or close); YAML's "---" does not.
    if first_line.startswith(b"--") and len(first_line) > 2 and raw.count(first_line) >= 2:
        return first_line[2:].decode("latin-1")
    return None


def _parse_capture(raw: bytes, status: int) -> FixtureResponse:
    status_end = raw.index(b"\n") + 1
    header_end = _HEADER_END.search(raw, status_end - 1)
    if header_end is None:
        head, body = raw[status_end:], b""
    else:
        head, body = raw[status_end : header_end.start()], raw[header_end.end() :]
    headers = _parse_header_lines(head.decode("latin-1"))
    if "chunked" in headers.get("Transfer-Encoding", "").lower():
        body = dechunk(body)
    return FixtureResponse(status, headers, body)


def _parse_header_lines(head: str) -> CaseInsensitiveDict[str]:
    headers: CaseInsensitiveDict[str] = CaseInsensitiveDict()
    last = ""
    for line in head.splitlines():
        if line[:1] in (" ", "\t") and last:
            headers[last] = f"{headers[last]} {line.strip()}"
        elif ":" in line:
            name, value = line.split(":", 1)
            last = name.strip()
            headers[last] = f"{headers[last]}, {value.strip()}" if last in headers else value.strip()
    return headers


_CHUNK_SIZE = re.compile(rb"([0-9a-fA-F]+)[ \t]*(?:;[^\r\n]*)?\r?\n")


def dechunk(body: bytes) -> bytes:
    """Remove HTTP chunked framing; a body that does not start with a chunk-size line is returned as is.

    Lenient like a capture needs: anything after the terminating ``0`` chunk (curl's verbose log
    lines) is dropped, and a last chunk shorter than announced keeps what is there.
    """
    if not _CHUNK_SIZE.match(body):
        return body
    out = bytearray()
    position = 0
    while (size_line := _CHUNK_SIZE.match(body, position)) is not None:
        size = int(size_line.group(1), 16)
        if size == 0:
            break
        start = size_line.end()
        out += body[start : start + size]
        position = start + size
        position += 2 if body.startswith(b"\r\n", position) else int(body.startswith(b"\n", position))
    return bytes(out)


# --- VCR cassette -------------------------------------------------------------------------------


def load_cassette(relpath: str = "estately-rets/unauthorized_response.yml") -> list[CassetteInteraction]:
    """The interactions of a VCR cassette (the small YAML subset VCR writes)."""
    document = parse_simple_yaml(fixture_path(relpath).read_text("utf-8"))
    assert isinstance(document, dict)
    return [_interaction(item) for item in document["http_interactions"]]


def _interaction(item: dict) -> CassetteInteraction:
    request, response = item["request"], item["response"]
    header_lists = CaseInsensitiveDict(response.get("headers") or {})
    headers = CaseInsensitiveDict({name: ", ".join(values) for name, values in header_lists.items()})
    payload = response["body"]["string"] or ""
    data = payload if isinstance(payload, bytes) else payload.encode("latin-1")
    if "chunked" in headers.get("Transfer-Encoding", "").lower():
        data = dechunk(data)
    return CassetteInteraction(
        method=request["method"].upper(),
        uri=request["uri"],
        request_headers=CaseInsensitiveDict(request.get("headers") or {}),
        request_body=(request.get("body") or {}).get("string") or "",
        response=FixtureResponse(int(response["status"]["code"]), headers, data),
        response_header_lists=header_lists,
    )


@dataclass
class _Line:
    indent: int
    text: str


def parse_simple_yaml(text: str) -> object:
    """Parse block mappings, block sequences and plain/quoted/literal scalars.

    Scalars stay strings (no int or bool typing); a ``!binary`` scalar becomes its decoded bytes.
    """
    lines = [_Line(len(raw) - len(raw.lstrip(" ")), raw.strip()) for raw in text.splitlines()]
    lines = [line for line in lines if line.text and line.text != "---"]
    value, _ = _parse_block(lines, 0, lines[0].indent)
    return value


_MAPPING_KEY = re.compile(r"""^([^'"\s-][^:]*?):(?:\s|$)""")


def _parse_block(lines: list[_Line], index: int, indent: int) -> tuple[object, int]:
    if lines[index].text.startswith("- ") or lines[index].text == "-":
        return _parse_sequence(lines, index, indent)
    return _parse_mapping(lines, index, indent)


def _parse_sequence(lines: list[_Line], index: int, indent: int) -> tuple[list, int]:
    items: list = []
    while index < len(lines) and lines[index].indent == indent and lines[index].text.startswith("-"):
        # Re-read "- key: v" as a mapping line indented two columns further.
        inner = lines[index].text[1:].lstrip(" ")
        inner_indent = indent + len(lines[index].text) - len(inner)
        lines[index] = _Line(inner_indent, inner)
        if _MAPPING_KEY.match(inner):
            item, index = _parse_mapping(lines, index, inner_indent)
        else:
            item, index = _parse_scalar(lines, index, inner, indent)
        items.append(item)
    return items, index


def _parse_mapping(lines: list[_Line], index: int, indent: int) -> tuple[dict, int]:
    mapping: dict = {}
    while index < len(lines) and lines[index].indent == indent and not lines[index].text.startswith("- "):
        key_match = _MAPPING_KEY.match(lines[index].text)
        if key_match is None:
            raise ValueError(f"unsupported YAML line: {lines[index].text!r}")
        key, rest = key_match.group(1), lines[index].text[key_match.end() :].strip()
        if rest:
            value, index = _parse_scalar(lines, index, rest, indent)
        elif index + 1 < len(lines) and _is_child(lines[index + 1], indent):
            value, index = _parse_block(lines, index + 1, lines[index + 1].indent)
        else:
            value, index = None, index + 1
        mapping[key] = value
    return mapping, index


def _is_child(line: _Line, indent: int) -> bool:
    return line.indent > indent or (line.indent == indent and line.text.startswith("- "))


def _parse_scalar(lines: list[_Line], index: int, rest: str, indent: int) -> tuple[str | bytes, int]:
    """The scalar starting with ``rest`` on line ``index``; continuation lines are indented deeper."""
    if rest.startswith("!binary"):
        text, end = _parse_scalar(lines, index, rest.removeprefix("!binary").strip(), indent)
        return base64.b64decode(text), end
    rest = re.sub(r"^!\s*", "", rest)
    end = index + 1
    while end < len(lines) and lines[end].indent > indent:
        end += 1
    if rest.startswith("|"):
        block = lines[index + 1 : end]
        base = min((line.indent for line in block), default=0)
        text = "\n".join(" " * (line.indent - base) + line.text for line in block)
        return (text if rest.startswith("|-") else text + "\n"), end
    joined = " ".join([rest] + [line.text for line in lines[index + 1 : end]])
    if joined.startswith('"'):
        return _double_quoted(rest, [line.text for line in lines[index + 1 : end]]), end
    if joined.startswith("'"):
        return joined[1:-1].replace("''", "'"), end
    return joined, end


def _double_quoted(first: str, continuation: list[str]) -> str:
    # Folding: a line break between non-empty lines becomes one space; leading/trailing blanks drop.
    source = " ".join([first.rstrip(), *continuation])
    return json.loads(_yaml_escapes_to_json(source))


def _yaml_escapes_to_json(quoted: str) -> str:
    # YAML's "\ " (escaped space) is not a JSON escape; everything else VCR emits is.
    return re.sub(r"\\([\\ ])", lambda m: " " if m.group(1) == " " else "\\\\", quoted)
