"""The simulator's RETS server: stdlib ``ThreadingHTTPServer`` on loopback, in a background thread.

Transactions (GET or form-encoded POST each): Login, GetMetadata, Search, GetObject, Logout and an
Action bulletin, under ``/rets/<Name>`` (and ``/other/<Name>`` for the absolute-URL quirk), plus
unauthenticated photo URLs under ``/media/`` for ``Location=1``.

Authentication: RFC 2617 Digest (qop=auth, MD5) with server nonces that go stale after
``nonce_ttl_seconds`` (or ``Quirks.nonce_max_uses``), or Basic with ``Quirks(auth="basic")``.
Login sets a ``RETS-Session-ID`` cookie; other transactions need it (else 401), and an
``Authorization`` header, when sent, must verify too. A wrong password answers 401 again; after
``lockout_after`` bad attempts in a row the account is locked for ``lockout_seconds``: every login
of that user then gets HTTP 403 with ReplyCode 20036 "Account locked", as MLS portals do, even with
the right password. Every request needs a valid ``RETS-Version`` header (else HTTP 400 + 20036);
the server answers with its own version (``SimulatorConfig.rets_version``).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import logging
import re
import secrets
import signal
import socket
import threading
import time
from array import array
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import chain
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import parse_qsl, quote, urlsplit

from retsctl.rets.dmql import (
    And,
    AnyValue,
    Criterion,
    DmqlSyntaxError,
    DmqlValidationError,
    Empty,
    LookupList,
    Node,
    Or,
    Period,
    Range,
    Text,
    Value,
    parse,
    value_items,
)
from retsctl.simulator.dataset import (
    KEY_FIELD,
    METADATA_DATE,
    METADATA_VERSION,
    RESOURCE,
    TIMESTAMP_FIELD,
    USER_OFFICE,
    ClassDef,
    Dataset,
    FieldDef,
    RowShape,
    xml_escape,
)
from retsctl.simulator.metadata import (
    OBJECT_TYPES,
    MetadataRequestError,
    metadata_segments,
    render_compact,
    render_standard_xml,
)
from retsctl.simulator.query import compile_query
from retsctl.simulator.quirks import CORRUPTION_SUFFIX, STRAY_BYTE, STRAY_BYTE_MARKER, Quirks, remarks_corrupted
from retsctl.simulator.replay import Recording

log = logging.getLogger(__name__)

TRANSACTIONS = ("Login", "Action", "GetMetadata", "Search", "GetObject", "Logout")
SESSION_COOKIE = "RETS-Session-ID"
SERVER_NAME = "retsctl-simulator/0.1"
_XML = "text/xml; charset=UTF-8"
_OK = "Operation Successful"
# Search rows leave in chunks of this many (~175 KB of COMPACT-DECODED), as a server flushing its
# output buffer as it goes: the first rows of a page are on the wire within a few milliseconds.
_ROWS_PER_CHUNK = 50
_VERSION = re.compile(r"^RETS/\d+\.\d+(\.\d+)*$")
_DIGEST_PARAM = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')
_KEY_INDEX_FIELDS = frozenset({KEY_FIELD, "ModificationTimestamp"})
_QUERY_TOKEN = ("vendor", "sim")


@dataclass
class SimulatorConfig:
    """What the simulated MLS holds and how its server behaves (quirks are all opt-in)."""

    listings: int = 500
    seed: int = 1
    page_cap: int = 2500
    username: str = "demo"
    password: str = field(default="demo-password", repr=False)
    user_agent: str = "retsctl"
    ua_password: str = field(default="ua-secret", repr=False)
    rets_version: str = "RETS/1.7.2"
    quirks: Quirks = field(default_factory=Quirks)
    realm: str = "retsctl-simulator"
    session_timeout_seconds: int = 1800
    nonce_ttl_seconds: float = 300.0
    lockout_after: int = 5
    lockout_seconds: float = 300.0


def ua_auth_digest(user_agent: str, ua_password: str, request_id: str, session_id: str, version: str) -> str:
    """RETS-UA-Authorization digest: md5(md5(UA:password):request-id:session-id:version), lower hex."""
    a1 = hashlib.md5(f"{user_agent.strip()}:{ua_password}".encode()).hexdigest()
    pieces = (a1, request_id.strip(), session_id.strip(), version.strip())
    return hashlib.md5(":".join(pieces).encode()).hexdigest()


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------------------------------------
# Responses


@dataclass
class Response:
    """What a handler sends: a whole body, or chunks streamed with chunked transfer encoding."""

    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    chunks: Iterable[bytes] | None = None


def rets_reply(code: int, text: str, content: str = "", *, status_in_body: bool = False) -> str:
    """A ``<RETS>`` envelope; with ``status_in_body`` a non-zero code moves into a trailing RETS-STATUS."""
    text = xml_escape(text).replace('"', "&quot;")
    if status_in_body and code:
        return (f'<RETS ReplyCode="0" ReplyText="{_OK}">\n{content}'
                f'<RETS-STATUS ReplyCode="{code}" ReplyText="{text}"/>\n</RETS>\n')
    if content:
        return f'<RETS ReplyCode="{code}" ReplyText="{text}">\n{content}</RETS>\n'
    return f'<RETS ReplyCode="{code}" ReplyText="{text}"/>\n'


class RetsFailure(Exception):
    """A transaction that ends in a non-zero ReplyCode (HTTP 200 unless ``status`` says otherwise)."""

    def __init__(self, code: int, text: str, status: int = 200) -> None:
        super().__init__(f"{code} {text}")
        self.code = code
        self.text = text
        self.status = status


def _candidates(node: Node, dataset: Dataset) -> set[int] | None:
    """Listing indexes a query can match at most, judged from its lists of keys and the lower
    bounds of its modification times, or None when it pins neither. The predicate still decides;
    this spares the queries a real server answers from an index a scan of every listing: the key
    batches of a keys-first sync and the since-the-last-run query of an incremental one."""
    if isinstance(node, And):
        narrowed = [found for item in node.items if (found := _candidates(item, dataset)) is not None]
        return min(narrowed, key=len) if narrowed else None
    if isinstance(node, Or):
        parts = [_candidates(item, dataset) for item in node.items]
        return None if any(part is None for part in parts) else set().union(*parts)  # type: ignore[arg-type]
    if not isinstance(node, Criterion):
        return None
    if node.field == KEY_FIELD:
        return _listed_keys(node.value, dataset)
    if node.field == TIMESTAMP_FIELD:
        return _modified_from(node.value, dataset)
    return None


def _listed_keys(value: Value, dataset: Dataset) -> set[int] | None:
    if isinstance(value, AnyValue | Empty) or (isinstance(value, LookupList) and value.op != "|"):
        return None
    items = value_items(value)
    if any(isinstance(item, Range) or (isinstance(item, Text) and item.has_wildcards) for item in items):
        return None
    return {index for item in items if (index := dataset.index_of(item.text)) is not None}  # type: ignore[union-attr]


def _modified_from(value: Value, dataset: Dataset) -> set[int] | None:
    """Listings modified since two days before a range's lower bound (a margin wider than any time
    zone); None for other values, and for TODAY/NOW bounds."""
    if not isinstance(value, Range) or not isinstance(value.low, Period):
        return None
    try:
        day = date.fromisoformat(value.low.text[:10])
    except ValueError:
        return None
    return set(dataset.modified_since(day - timedelta(days=2)))


# ---------------------------------------------------------------------------------------------
# Server state


@dataclass
class _Session:
    id: str
    started: float
    last_used: float
    transactions: int = 0
    expired: bool = False


@dataclass
class _Nonce:
    created: float
    uses: int = 0
    counts: set[str] = field(default_factory=set)


@dataclass
class _SearchPlan:
    class_def: ClassDef
    columns: list[FieldDef]
    names: list[str]
    fmt: str
    matches: array[int]
    count_mode: int
    start: int
    take: int
    maxrows: bool
    server_cut: bool
    shape: RowShape


class _State:
    """Everything the request handlers share; mutable parts are guarded by ``lock``."""

    def __init__(self, config: SimulatorConfig, dataset: Dataset) -> None:
        self.config = config
        self.quirks = config.quirks
        self.dataset = dataset
        self.lock = threading.Lock()
        self.sessions: dict[str, _Session] = {}
        self.nonces: dict[str, _Nonce] = {}
        self.opaque = secrets.token_hex(16)
        self.failures: dict[str, int] = {}
        self.locked_until: dict[str, float] = {}
        self.requests = 0
        self.matches: OrderedDict[tuple[Any, ...], array[int]] = OrderedDict()
        self.query_lock = threading.Lock()

    def next_request_number(self) -> int:
        with self.lock:
            self.requests += 1
            return self.requests

    def new_nonce(self) -> str:
        nonce = secrets.token_hex(16)
        with self.lock:
            now = time.monotonic()
            if len(self.nonces) > 2000:
                ttl = self.config.nonce_ttl_seconds
                self.nonces = {k: v for k, v in self.nonces.items() if now - v.created < ttl}
            self.nonces[nonce] = _Nonce(now)
        return nonce

    def use_nonce(self, nonce: str, count: str) -> bool:
        """Record one use of a nonce; False when it is unknown, too old, used up or replayed."""
        with self.lock:
            state = self.nonces.get(nonce)
            if state is None or time.monotonic() - state.created > self.config.nonce_ttl_seconds:
                return False
            state.uses += 1
            limit = self.quirks.nonce_max_uses
            if (limit and state.uses > limit) or count in state.counts:
                return False
            state.counts.add(count)
            return True

    def record_login_attempt(self, username: str, ok: bool) -> None:
        with self.lock:
            if ok:
                self.failures.pop(username, None)
                return
            self.failures[username] = self.failures.get(username, 0) + 1
            if self.failures[username] >= self.config.lockout_after:
                self.locked_until[username] = time.monotonic() + self.config.lockout_seconds
                self.failures.pop(username)

    def is_locked(self, username: str) -> bool:
        with self.lock:
            return self.locked_until.get(username, 0.0) > time.monotonic()

    def open_session(self) -> _Session:
        now = time.monotonic()
        session = _Session(secrets.token_hex(16).upper(), now, now)
        with self.lock:
            self.sessions[session.id] = session
        return session

    def session(self, session_id: str | None) -> _Session | None:
        if not session_id:
            return None
        with self.lock:
            session = self.sessions.get(session_id)
            now = time.monotonic()
            if session is not None and now - session.last_used > self.config.session_timeout_seconds:
                del self.sessions[session_id]
                return None
            if session is not None:
                session.last_used = now
            return session

    def close_session(self, session_id: str) -> _Session | None:
        with self.lock:
            return self.sessions.pop(session_id, None)

    def matching(self, key: tuple[Any, ...], evaluate: Callable[[], array[int]]) -> array[int]:
        """Matching listing indexes for a (class, names, query, dataset version), evaluated once."""
        with self.query_lock:
            found = self.matches.get(key)
            if found is None:
                found = evaluate()
                self.matches[key] = found
                if len(self.matches) > 32:
                    self.matches.popitem(last=False)
            else:
                self.matches.move_to_end(key)
            return found


# ---------------------------------------------------------------------------------------------
# The request handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up mid-response is routine here; never print to stderr.
        log.debug("connection from %s ended with an error", client_address, exc_info=True)

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()

    def close_connections(self) -> None:
        with self.connections_lock:
            for connection in list(self.connections):
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    """Shared plumbing: HTTP/1.1 keep-alive, connection tracking, form parsing, response writing."""

    protocol_version = "HTTP/1.1"
    # TCP_NODELAY, as servers set it: with Nagle's algorithm a response's last small segment waits
    # for the client's delayed ACK, which stalled every page a fast client read.
    disable_nagle_algorithm = True
    server_version = "retsctl-simulator/0.1"
    timeout = 120
    server: _Server

    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def do_GET(self) -> None:
        self.handle_request()

    def do_POST(self) -> None:
        self.handle_request()

    def handle_request(self) -> None:
        raise NotImplementedError

    def form(self) -> tuple[str, dict[str, str]]:
        """The request path and its arguments (query string, then form body), names lower-cased."""
        split = urlsplit(self.path)
        pairs = parse_qsl(split.query, keep_blank_values=True)
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            body = self.rfile.read(length).decode("utf-8", "replace")
            if "x-www-form-urlencoded" in (self.headers.get("Content-Type") or "x-www-form-urlencoded"):
                pairs += parse_qsl(body, keep_blank_values=True)
        return split.path, {name.lower(): value for name, value in pairs}

    def send(self, response: Response, *, drop: bool = False, truncate: bool = False) -> None:
        """Write a response; ``drop`` closes the socket mid-body, ``truncate`` promises more bytes
        than it sends and closes."""
        chunks = response.chunks
        body = response.body
        if chunks is not None and (truncate or drop):
            body, chunks = b"".join(chunks), None
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        if chunks is not None:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(len(body) + (1024 if truncate else 0)))
        if drop or truncate:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if chunks is None:
            self.wfile.write(body[: len(body) // 2] if drop else body)
        else:
            for chunk in chunks:
                if chunk:
                    # One write a chunk: its size line alone would be a tiny segment of its own.
                    self.wfile.write(b"".join((b"%X\r\n" % len(chunk), chunk, b"\r\n")))
            self.wfile.write(b"0\r\n\r\n")
        if drop or truncate:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)


class _RetsHandler(_Handler):
    """One RETS request against the simulated MLS."""

    state: _State  # set on the subclass made per server
    current_session: _Session | None = None

    # -- dispatch -----------------------------------------------------------------------------

    def handle_request(self) -> None:
        state = self.state
        path, params = self.form()
        if state.quirks.slow_ms:
            time.sleep(state.quirks.slow_ms / 1000)
        if path.startswith("/media/"):
            self.send(self.media(path))
            return
        transaction = self.route(path)
        if transaction is None:
            self.send(self.plain(404, "Not Found"))
            return
        if transaction != "Login" and state.quirks.capability_query_strings and params.get(_QUERY_TOKEN[0]) != _QUERY_TOKEN[1]:
            self.send(self.plain(404, "Not Found (this URL needs its vendor=sim query string)"))
            return
        refused = self.check_version() or self.authenticate(transaction) or self.check_user_agent()
        if refused is not None:
            self.send(refused)
            return
        quirks = state.quirks
        number = state.next_request_number()
        if quirks.hits(quirks.fail_5xx_every, number):
            self.send(self.plain(503, "Service Temporarily Unavailable"))
            return
        try:
            response = self.transact(transaction, params)
        except RetsFailure as failure:
            response = self.reply(failure.code, failure.text, status=failure.status)
        except Exception:
            log.exception("simulator failed on %s", self.path)
            response = self.reply(10000, "Internal simulator error", status=500)
        self.send(response, drop=quirks.hits(quirks.drop_connection_every, number),
                  truncate=quirks.hits(quirks.truncate_body_every, number))

    def route(self, path: str) -> str | None:
        for prefix in ("/rets/", "/other/"):
            if path.lower().startswith(prefix):
                name = path[len(prefix):].strip("/").lower()
                return next((t for t in TRANSACTIONS if t.lower() == name), None)
        return None

    def transact(self, transaction: str, params: dict[str, str]) -> Response:
        if transaction == "Login":
            return self.login()
        session = self.current_session
        assert session is not None
        if transaction == "Logout":
            return self.logout(session)
        session.transactions += 1
        limit = self.state.quirks.expire_session_after
        if session.expired or (limit and session.transactions > limit):
            session.expired = True
            raise RetsFailure(20037, "Session expired; log in again")
        if transaction == "Action":
            return self.action()
        if transaction == "GetMetadata":
            return self.get_metadata(params)
        if transaction == "Search":
            return self.search(params)
        return self.get_object(params)

    # -- headers and auth ---------------------------------------------------------------------

    def common_headers(self) -> list[tuple[str, str]]:
        headers = [("RETS-Version", self.state.config.rets_version), ("RETS-Server", SERVER_NAME),
                   ("Cache-Control", "private")]
        request_id = self.headers.get("RETS-Request-ID")
        if request_id is not None:
            headers.append(("RETS-Request-ID", request_id))
        return headers

    def plain(self, status: int, text: str) -> Response:
        page = f"<html><head><title>{status}</title></head><body><h1>{xml_escape(text)}</h1></body></html>\n"
        return Response(status, [*self.common_headers(), ("Content-Type", "text/html; charset=UTF-8")], page.encode())

    def reply(self, code: int, text: str, content: str = "", *, status: int = 200,
              headers: Iterable[tuple[str, str]] = ()) -> Response:
        body = rets_reply(code, text, content, status_in_body=self.state.quirks.rets_status_in_body)
        return Response(status, [*self.common_headers(), *headers, ("Content-Type", _XML)], body.encode("utf-8"))

    def check_version(self) -> Response | None:
        version = (self.headers.get("RETS-Version") or "").strip()
        if _VERSION.match(version):
            return None
        return self.reply(20036, "Missing or Invalid RETS Version", status=400)

    def challenge(self, *, stale: bool = False) -> Response:
        config = self.state.config
        if self.state.quirks.auth == "basic":
            offer = f'Basic realm="{config.realm}"'
        else:
            offer = (f'Digest realm="{config.realm}", qop="auth", nonce="{self.state.new_nonce()}", '
                     f'opaque="{self.state.opaque}", algorithm=MD5' + (", stale=true" if stale else ""))
        response = self.plain(401, "Unauthorized")
        response.headers.append(("WWW-Authenticate", offer))
        return response

    def authenticate(self, transaction: str) -> Response | None:
        """None when the request may proceed, else the 401/403 (or 20701) answer."""
        self.current_session = None
        header = self.headers.get("Authorization")
        if transaction == "Login":
            return self.check_credentials(header, required=True)
        session = self.state.session(self.cookie(SESSION_COOKIE))
        if session is None:
            if transaction == "Logout":
                return self.reply(20701, "Not logged in")
            return self.challenge()
        self.current_session = session
        return self.check_credentials(header, required=False) if header else None

    def check_credentials(self, header: str | None, *, required: bool) -> Response | None:
        if not header:
            return self.challenge() if required else None
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() == "basic" and self.state.quirks.auth == "basic":
            return self.check_basic(credentials)
        if scheme.lower() == "digest" and self.state.quirks.auth == "digest":
            return self.check_digest(credentials)
        return self.challenge()

    def locked(self, username: str) -> Response | None:
        if not self.state.is_locked(username):
            return None
        text = "Account locked after too many failed login attempts; contact the MLS to unlock it"
        return self.reply(20036, text, status=403)

    def check_basic(self, credentials: str) -> Response | None:
        try:
            username, _, password = base64.b64decode(credentials.strip()).decode("utf-8").partition(":")
        except ValueError:
            return self.challenge()
        config = self.state.config
        refused = self.locked(username)
        if refused is not None:
            return refused
        ok = username == config.username and secrets.compare_digest(password, config.password)
        self.state.record_login_attempt(username, ok)
        return None if ok else self.challenge()

    def check_digest(self, credentials: str) -> Response | None:
        params = {m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
                  for m in _DIGEST_PARAM.finditer(credentials)}
        config = self.state.config
        username = params.get("username", "")
        refused = self.locked(username)
        if refused is not None:
            return refused
        if params.get("uri") != self.path or params.get("realm") != config.realm:
            return self.challenge()
        nonce, count = params.get("nonce", ""), params.get("nc", "")
        ha1 = _md5(f"{config.username}:{config.realm}:{config.password}")
        ha2 = _md5(f"{self.command}:{params['uri']}")
        qop = params.get("qop")
        if qop:
            expected = _md5(f"{ha1}:{nonce}:{count}:{params.get('cnonce', '')}:{qop}:{ha2}")
        else:
            expected = _md5(f"{ha1}:{nonce}:{ha2}")
        ok = username == config.username and secrets.compare_digest(params.get("response", ""), expected)
        if not ok:
            self.state.record_login_attempt(username, ok=False)
            return self.challenge()
        if not self.state.use_nonce(nonce, count):
            return self.challenge(stale=True)
        self.state.record_login_attempt(username, ok=True)
        return None

    def cookie(self, name: str) -> str | None:
        for part in (self.headers.get("Cookie") or "").split(";"):
            key, _, value = part.strip().partition("=")
            if key == name:
                return value
        return None

    def check_user_agent(self) -> Response | None:
        variant = self.state.quirks.ua_auth
        if variant == "off":
            return None
        config = self.state.config
        header = self.headers.get("RETS-UA-Authorization")
        if not header:
            return self.reply(20041, "User-Agent authentication required")
        agent = (self.headers.get("User-Agent") or "").strip()
        product = agent.split("/")[0]
        if product != config.user_agent.split("/")[0]:
            return self.reply(20037, "Unknown user agent")
        version = (self.headers.get("RETS-Version") or "").strip()
        if variant == "interealty":
            expected = ua_auth_digest(product, config.ua_password, "", "", version)
        else:
            request_id = self.headers.get("RETS-Request-ID") or ""
            expected = ua_auth_digest(agent, config.ua_password, request_id, self.cookie(SESSION_COOKIE) or "", version)
        scheme, _, digest = header.strip().partition(" ")
        if scheme.lower() != "digest" or digest.strip().lower() != expected:
            return self.reply(20037, "User-Agent authentication failed")
        return None

    # -- Login, Logout, Action ----------------------------------------------------------------

    def base_url(self) -> str:
        host = self.headers.get("Host") or "{}:{}".format(*self.server.server_address[:2])
        return f"http://{host}"

    def capabilities(self) -> dict[str, str]:
        quirks = self.state.quirks
        prefix = f"{self.base_url()}/other/" if quirks.capability_absolute_urls else "/rets/"
        query = "?{}={}".format(*_QUERY_TOKEN) if quirks.capability_query_strings else ""
        return {name: f"{prefix}{name}{query}" for name in TRANSACTIONS}

    def login(self) -> Response:
        session = self.state.open_session()
        config = self.state.config
        if config.rets_version.startswith("RETS/1.8"):
            info = [
                ("USERID", "Character", config.username), ("USERCLASS", "Character", "Agent"),
                ("USERLEVEL", "Int", "1"), ("AGENTCODE", "Character", "AG00001"),
                ("BROKERCODE", "Character", USER_OFFICE), ("BROKERBRANCH", "Character", ""),
                ("MEMBERNAME", "Character", "Demo Agent"), ("METADATAID", "Character", f"SIMMLS-{METADATA_VERSION}"),
                ("METADATAVERSION", "MetadataVersion", METADATA_VERSION),
                ("METADATATIMESTAMP", "DateTime", METADATA_DATE), ("MINMETADATATIMESTAMP", "DateTime", METADATA_DATE),
                ("TimeoutSeconds", "Int", str(config.session_timeout_seconds)), ("OfficeList", "Character", USER_OFFICE),
                ("VendorName", "Character", "retsctl"), ("ServerProductName", "Character", "retsctl simulator"),
            ]
            lines = [f"Info={name};{kind};{value}" for name, kind, value in info]
        else:
            lines = [
                "MemberName=Demo Agent", f"User={config.username},1,Agent,AG00001", f"Broker={USER_OFFICE},1",
                f"MetadataVersion={METADATA_VERSION}", f"MinMetadataVersion={METADATA_VERSION}",
                f"MetadataTimestamp={METADATA_DATE}", f"MinMetadataTimestamp={METADATA_DATE}",
                f"OfficeList={USER_OFFICE}", f"TimeoutSeconds={config.session_timeout_seconds}",
            ]
        lines += [f"{name}={url}" for name, url in self.capabilities().items()]
        content = "<RETS-RESPONSE>\n" + xml_escape("\n".join(lines)) + "\n</RETS-RESPONSE>\n"
        cookie = ("Set-Cookie", f"{SESSION_COOKIE}={session.id}; Path=/")
        return self.reply(0, _OK, content, headers=[cookie])

    def logout(self, session: _Session) -> Response:
        self.state.close_session(session.id)
        seconds = int(time.monotonic() - session.started)
        content = f"<RETS-RESPONSE>\nConnectTime={seconds}\nSignOffMessage=Goodbye from the simulator.\n</RETS-RESPONSE>\n"
        return self.reply(0, _OK, content)

    def action(self) -> Response:
        text = "Welcome to the retsctl simulator MLS.\nScheduled maintenance: none.\n"
        return Response(200, [*self.common_headers(), ("Content-Type", "text/plain; charset=UTF-8")], text.encode())

    # -- GetMetadata --------------------------------------------------------------------------

    def get_metadata(self, params: Mapping[str, str]) -> Response:
        fmt = (params.get("format") or "STANDARD-XML").upper()
        standard = fmt.startswith("STANDARD-XML")
        if fmt != "COMPACT" and not standard:
            raise RetsFailure(20513, f"Invalid Format: {fmt}")
        refused = self.state.quirks.refuse_metadata_format
        if refused and (fmt == refused or (standard and refused == "STANDARD-XML")):
            raise RetsFailure(self.state.quirks.refuse_metadata_code, f"Unsupported metadata format: {fmt}")
        try:
            segments = metadata_segments(params.get("type", ""), params.get("id", "0"),
                                         rets_18=self.state.config.rets_version.startswith("RETS/1.8"))
        except MetadataRequestError as error:
            raise RetsFailure(error.code, error.text) from None
        content = render_standard_xml(segments) if standard else render_compact(segments)
        return self.reply(0, _OK, content)

    # -- Search -------------------------------------------------------------------------------

    def search(self, params: Mapping[str, str]) -> Response:
        plan = self.plan_search(params)
        reported = len(plan.matches) + (1 if self.state.quirks.count_off_by_one else 0)
        count = f'<COUNT Records="{reported}"/>\n' if plan.count_mode else ""
        if plan.count_mode == 2:
            return self.reply(0, _OK, count)
        if plan.take == 0:
            raise RetsFailure(20201, "No Records Found")
        head = f'<RETS ReplyCode="0" ReplyText="{_OK}">\n{count}'
        tail = ("<MAXROWS/>\n" if plan.maxrows else "") + (
            '<RETS-STATUS ReplyCode="20208" ReplyText="Maximum Records Exceeded"/>\n' if plan.server_cut else ""
        ) + "</RETS>\n"
        if plan.fmt == "STANDARD-XML":
            rows = self.standard_xml_rows(plan)
            head += "<REData>\n<REProperties>\n"
            tail = "</REProperties>\n</REData>\n" + tail
        else:
            rows = self.compact_rows(plan)
            head += '<DELIMITER value="09"/>\n<COLUMNS>\t' + "\t".join(plan.names) + "\t</COLUMNS>\n"
        chunks = chain([head.encode("utf-8")], rows, [tail.encode("utf-8")])
        return Response(200, [*self.common_headers(), ("Content-Type", _XML)], chunks=chunks)

    def plan_search(self, params: Mapping[str, str]) -> _SearchPlan:
        standard_names = params.get("standardnames", "0") == "1"
        class_def = self.search_class(params, standard_names)
        fmt = (params.get("format") or "STANDARD-XML").upper().partition(":")[0]
        if fmt not in ("COMPACT", "COMPACT-DECODED", "STANDARD-XML"):
            raise RetsFailure(20203, f"Unsupported Format: {fmt}")
        if (params.get("querytype") or "DMQL2").upper() not in ("DMQL2", "DMQL"):
            raise RetsFailure(20203, f"Unsupported QueryType: {params['querytype']}")
        query = params.get("query", "").strip()
        if not query:
            raise RetsFailure(20203, "Missing Query")
        count_mode, limit, start = self.paging(params)
        names = self.state.dataset.field_names(class_def.name, standard_names=standard_names)
        columns, shown = self.select(params.get("select", ""), names)
        matches = self.matches(class_def.name, names, standard_names, query)
        take, maxrows, server_cut = self.window(len(matches), start, limit, columns)
        shape = RowShape(decoded=fmt != "COMPACT", escaped=True, restricted=params.get("restrictedindicator", ""))
        return _SearchPlan(class_def, columns, shown, fmt, matches, count_mode, start, take, maxrows, server_cut, shape)

    def search_class(self, params: Mapping[str, str], standard_names: bool) -> ClassDef:
        """The class searched (SearchType and Class use StandardNames when StandardNames=1)."""
        classes = self.state.dataset.classes
        if params.get("searchtype") != RESOURCE:
            raise RetsFailure(20203, f"Unknown resource: {params.get('searchtype', '')}")
        wanted = params.get("class")
        found = next((c for c in classes.values() if wanted in (c.name, c.standard_name if standard_names else None)), None)
        if found is None:
            raise RetsFailure(20203, f"Invalid class: {wanted or ''}. Valid classes: " + ", ".join(classes))
        return found

    def paging(self, params: Mapping[str, str]) -> tuple[int, int | None, int]:
        """Count mode, Limit (None for NONE) and the 0-based start, after the offset quirks."""
        count_mode = self.number(params.get("count") or "0", "Count", low=0, high=2)
        limit_text = (params.get("limit") or "NONE").strip().upper()
        limit = None if limit_text == "NONE" else self.number(limit_text, "Limit", low=1)
        offset_mode = self.state.quirks.offset
        if offset_mode == "refused" and "offset" in params:
            raise RetsFailure(20203, "Offset not supported")
        start = self.number(params.get("offset") or "1", "Offset", low=1) - 1
        return count_mode, limit, 0 if offset_mode == "ignored" else start

    def window(self, matched: int, start: int, limit: int | None, columns: list[FieldDef]) -> tuple[int, bool, bool]:
        """How many rows this page takes, whether ``<MAXROWS/>`` follows, and whether the server's
        own cap cut the page (then RETS-STATUS 20208 follows too, §5.4)."""
        cap = self.state.config.page_cap
        if limit is None and {f.system_name for f in columns} <= _KEY_INDEX_FIELDS:
            cap = 0  # a key-index download (HasKeyIndex=1, InKeyIndex fields only) is not capped
        available = max(0, matched - start)
        page = min([n for n in (limit, cap) if n], default=0)
        take = min(available, page) if page else available
        full_page = bool(page) and take == page
        server_cut = bool(cap) and available > cap and (limit is None or limit > cap)
        maxrows = available > take or (self.state.quirks.maxrows_on_full_last_page and full_page)
        return take, maxrows, server_cut

    @staticmethod
    def number(text: str, name: str, *, low: int, high: int | None = None) -> int:
        if not text.strip().isdigit() or int(text) < low or (high is not None and int(text) > high):
            raise RetsFailure(20203, f"Invalid {name}: {text}")
        return int(text)

    @staticmethod
    def select(text: str, names: Mapping[str, FieldDef]) -> tuple[list[FieldDef], list[str]]:
        wanted = [name.strip() for name in text.split(",") if name.strip()]
        unknown = [name for name in wanted if name not in names]
        if unknown:
            raise RetsFailure(20202, f"Invalid Select: unknown field(s) {', '.join(unknown)}")
        chosen = list(dict.fromkeys(wanted)) or list(names)
        return [names[name] for name in chosen], chosen

    def matches(self, class_name: str, names: Mapping[str, FieldDef], standard_names: bool, query: str) -> array[int]:
        dataset = self.state.dataset

        def evaluate() -> array[int]:
            try:
                predicate = compile_query(query, dataset.field_types(class_name, standard_names=standard_names))
            except DmqlSyntaxError as error:
                raise RetsFailure(20206, f"Invalid Query Syntax: {error.message}") from None
            except DmqlValidationError as error:
                raise RetsFailure(20200, f"Unknown Query Field: {error.message}") from None
            record = dataset.record
            candidates = _candidates(parse(query), dataset)
            return array("I", (i for i in dataset.members(class_name, candidates) if predicate(record(i, names))))

        return self.state.matching((class_name, standard_names, query, dataset.version), evaluate)

    def batches(self, plan: _SearchPlan) -> Iterator[array[int]]:
        stop = plan.start + plan.take
        for first in range(plan.start, stop, _ROWS_PER_CHUNK):
            yield plan.matches[first:min(first + _ROWS_PER_CHUNK, stop)]

    def corrupter(self, plan: _SearchPlan) -> Callable[[int, list[str]], None] | None:
        """What the invalid_chars quirk does to a row's values (None when it has nothing to do)."""
        positions = [n for n, spec in enumerate(plan.columns) if spec.system_name == "PublicRemarks"]
        if not self.state.quirks.invalid_chars or not positions:
            return None
        key_of = self.state.dataset.key_of

        def corrupt(index: int, values: list[str]) -> None:
            if remarks_corrupted(key_of(index)):
                values[positions[0]] += CORRUPTION_SUFFIX

        return corrupt

    def encode(self, text: str, corrupted: bool) -> bytes:
        data = text.encode("utf-8")
        return data.replace(STRAY_BYTE_MARKER.encode("utf-8"), STRAY_BYTE) if corrupted else data

    def compact_rows(self, plan: _SearchPlan) -> Iterator[bytes]:
        read = self.state.dataset.row_reader(plan.class_def.name, plan.columns, plan.shape)
        corrupt = self.corrupter(plan)
        corrupted = corrupt is not None
        for batch in self.batches(plan):
            # Encoded row by row: one text for the whole batch would be as wide as its widest
            # character (an emoji makes it 4 bytes a character) and cost twice as much to encode.
            parts: list[bytes] = []
            for index in batch:
                values = read(index)
                if corrupt is not None:
                    values = list(values)
                    corrupt(index, values)
                parts += b"<DATA>\t", self.encode("\t".join(values), corrupted), b"\t</DATA>\n"
            yield b"".join(parts)

    def standard_xml_rows(self, plan: _SearchPlan) -> Iterator[bytes]:
        read = self.state.dataset.row_reader(plan.class_def.name, plan.columns, plan.shape)
        corrupt = self.corrupter(plan)
        opens = [f"<{name}>" for name in plan.names]
        closes = [f"</{name}>" for name in plan.names]
        record = plan.class_def.standard_name
        for batch in self.batches(plan):
            parts = []
            for index in batch:
                values = list(read(index))
                if corrupt is not None:
                    corrupt(index, values)
                parts.append(f"<{record}>")
                parts.extend(chain.from_iterable(zip(opens, values, closes, strict=True)))
                parts.append(f"</{record}>\n")
            yield self.encode("".join(parts), corrupt is not None)

    # -- GetObject ----------------------------------------------------------------------------

    def get_object(self, params: Mapping[str, str]) -> Response:
        if params.get("resource") != RESOURCE:
            raise RetsFailure(20400, f"Invalid Resource: {params.get('resource', '')}")
        object_type = params.get("type", "")
        if object_type not in {row[0] for row in OBJECT_TYPES}:
            raise RetsFailure(20401, f"Invalid Type: {object_type}")
        if not params.get("id"):
            raise RetsFailure(20402, "Invalid Identifier: ID is required")
        accept = self.headers.get("Accept") or "*/*"
        if not any(kind.split(";")[0].strip() in ("*/*", "image/*", "image/jpeg") for kind in accept.split(",")):
            raise RetsFailure(20406, "None of the accepted media types is available", status=406)
        location = params.get("location") == "1"
        requested = [self.object_set(part) for part in params["id"].split(",") if part.strip()]
        single = len(requested) == 1 and len(requested[0][1]) == 1 and requested[0][1][0] != "*"
        parts = [part for key, ids in requested for part in self.object_parts(key, ids, object_type, location)]
        if single:
            return self.single_object(parts[0])
        return self.multipart(parts)

    @staticmethod
    def object_set(text: str) -> tuple[str, list[str]]:
        key, _, ids = text.strip().partition(":")
        return key, [i.strip() for i in ids.split(":") if i.strip()] or ["0"]

    def object_parts(self, key: str, ids: list[str], object_type: str, location: bool) -> Iterator[tuple[list[tuple[str, str]], bytes]]:
        """(headers, body) per object of one resource-set; 20403 parts for missing objects."""
        dataset = self.state.dataset
        try:
            count = dataset.photo_count(key)
        except KeyError:
            count = 0
        if ids == ["*"]:
            if not count:
                yield self.missing_object(key, "*")
                return
            wanted = [(n, str(n)) for n in range(1, count + 1)]
        else:  # 0 asks for the preferred object, which is photo 1
            wanted = [(1 if i == "0" else int(i) if i.isdigit() else -1, i) for i in ids]
        for number, asked in wanted:
            if not 1 <= number <= count:
                yield self.missing_object(key, asked)
                continue
            headers = [("Content-Type", "image/jpeg"), ("Content-ID", key), ("Object-ID", str(number)),
                       ("Content-Description", dataset.photo_description(key, number))]
            if number == 1:
                headers.append(("Preferred", "1"))
            if location:
                url = f"{self.base_url()}/media/{RESOURCE}/{object_type}/{quote(key)}/{number}.jpg"
                yield [*headers, ("Location", url)], b""
            else:
                yield headers, dataset.photo_bytes(key, object_type, number)

    def missing_object(self, key: str, object_id: str) -> tuple[list[tuple[str, str]], bytes]:
        headers = [("Content-Type", "text/xml"), ("Content-ID", key), ("Object-ID", object_id)]
        if self.state.config.rets_version.startswith("RETS/1.8"):
            headers.append(("RETS-Error", "1"))
        return headers, rets_reply(20403, "No Object Found").encode()

    def single_object(self, part: tuple[list[tuple[str, str]], bytes]) -> Response:
        headers, body = part
        if dict(headers)["Content-Type"] == "text/xml":
            return self.reply(20403, "No Object Found")
        return Response(200, [*self.common_headers(), ("MIME-Version", "1.0"), *headers], body)

    def multipart(self, parts: list[tuple[list[tuple[str, str]], bytes]]) -> Response:
        boundary = "simulator-" + hashlib.md5(self.path.encode()).hexdigest()[:16]
        out = []
        for headers, body in parts:
            head = "".join(f"{name}: {value}\r\n" for name, value in headers)
            out.append(f"--{boundary}\r\n{head}\r\n".encode() + body + b"\r\n")
        out.append(f"--{boundary}--\r\n".encode())
        content_type = f'multipart/parallel; boundary="{boundary}"'
        return Response(200, [*self.common_headers(), ("MIME-Version", "1.0"), ("Content-Type", content_type)],
                         b"".join(out))

    def media(self, path: str) -> Response:
        """``/media/Property/<Type>/<key>/<n>.jpg``: the photo bytes, no authentication."""
        pieces = path.strip("/").split("/")
        if len(pieces) == 5 and pieces[1] == RESOURCE and pieces[4].endswith(".jpg"):
            key, number = pieces[3], pieces[4][:-4]
            try:
                count = self.state.dataset.photo_count(key)
            except KeyError:
                count = 0
            if number.isdigit() and 1 <= int(number) <= count:
                data = self.state.dataset.photo_bytes(key, pieces[2], int(number))
                return Response(200, [("Content-Type", "image/jpeg")], data)
        return self.plain(404, "Not Found")


# ---------------------------------------------------------------------------------------------
# Replay of a capture


class _ReplayHandler(_Handler):
    """Answers each request with the next unused recorded exchange that matches it."""

    recording: Recording

    def handle_request(self) -> None:
        path, params = self.form()
        answer = self.recording.answer(self.command, path, params, f"http://{self.headers.get('Host', '')}")
        if answer is None:
            text = f"No recorded exchange left for {self.command} {path}"
            self.send(Response(404, [("Content-Type", "text/plain; charset=UTF-8")], text.encode()))
            return
        self.send(Response(answer.status, answer.headers, answer.body))


# ---------------------------------------------------------------------------------------------
# Running servers


class RunningServer:
    """A server listening in a background thread; a context manager that stops it on exit."""

    def __init__(self, server: _Server, login_path: str, username: str, password: str) -> None:
        self._server = server
        host, port = server.server_address[:2]
        self.login_url = f"http://{host}:{port}{login_path}"
        self.username = username
        self.password = password
        self._thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="retsctl-simulator", daemon=True)
        self._thread.start()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(login_url={self.login_url!r}, username={self.username!r})"

    def stop(self) -> None:
        """Stop listening, close open connections and wait for the serving thread."""
        self._server.shutdown()
        self._server.close_connections()
        self._server.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class RunningSimulator(RunningServer):
    """The simulated MLS while it serves: its credentials, its dataset, and ways to change it."""

    def __init__(self, server: _Server, config: SimulatorConfig, dataset: Dataset) -> None:
        super().__init__(server, "/rets/Login", config.username, config.password)
        self.config = config
        self.dataset = dataset

    def __enter__(self) -> RunningSimulator:
        return self

    def touch(self, key: str) -> str:
        """Change a listing (price cut, newest ModificationTimestamp); returns the new timestamp."""
        return self.dataset.touch(key)

    def delete(self, key: str) -> None:
        """Remove a listing from the MLS."""
        self.dataset.delete(key)


def start_simulator(config: SimulatorConfig | None = None, host: str = "127.0.0.1", port: int = 0) -> RunningSimulator:
    """Generate the dataset and serve it on ``host:port`` (port 0 picks a free one)."""
    config = config or SimulatorConfig()
    dataset = Dataset(config.listings, config.seed)
    handler = type("RetsHandler", (_RetsHandler,), {"state": _State(config, dataset)})
    return RunningSimulator(_Server((host, port), handler), config, dataset)


def replay_server(har_path: Path, host: str = "127.0.0.1", port: int = 0) -> RunningServer:
    """Serve a HAR 1.2 capture back (see :class:`~retsctl.simulator.replay.Recording`); any
    username and password are accepted."""
    recording = Recording.load(har_path)
    handler = type("ReplayHandler", (_ReplayHandler,), {"recording": recording})
    server = _Server((host, port), handler)
    return RunningServer(server, recording.login_path, "replay", "replay")


def serve_forever(config: SimulatorConfig, host: str, port: int, out: TextIO, as_json: bool, *,
                  replay: Path | None = None) -> None:
    """Start the simulator (or a replay), announce it on ``out``, and serve until SIGINT/SIGTERM.

    The announcement is three lines ``login_url: URL``, ``username: USER``, ``password: PASS``, or
    with ``as_json`` one JSON object with those keys.
    """
    running = replay_server(replay, host, port) if replay is not None else start_simulator(config, host, port)
    stopped = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stopped.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        details = {"login_url": running.login_url, "username": running.username, "password": running.password}
        if as_json:
            out.write(json.dumps(details) + "\n")
        else:
            out.write("".join(f"{name}: {value}\n" for name, value in details.items()))
        out.flush()
        stopped.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        running.stop()
