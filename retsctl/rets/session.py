"""A RETS session: login, capability URLs, auth negotiation, re-login, and every transaction.

    with Session(ConnectionSettings(url, user, password)) as rets:
        rets.login()
        for listing in rets.search("Property", "RES", "(ListPrice=300000+)"):
            ...
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TypeVar
from urllib.parse import urlencode

import requests
from requests.auth import AuthBase

from retsctl.rets.capture import WireRecorder
from retsctl.rets.compact import SearchReader
from retsctl.rets.http import (
    MAX_GET_URL,
    ConnectionSettings,
    auth_for,
    build_http_session,
    challenge_schemes,
    choose_scheme,
    http_status_error,
    log_exchange,
    network_error,
    ua_authorization_header,
)
from retsctl.rets.login import LoginResponse, parse_login_response, parse_logout_response
from retsctl.rets.metadata import (
    Field,
    LookupValue,
    MetadataClass,
    MetadataResponse,
    ObjectType,
    Resource,
    parse_metadata,
)
from retsctl.rets.objects import RetsObject, read_objects
from retsctl.rets.replies import (
    RetsAuthError,
    RetsError,
    RetsProtocolError,
    RetsReplyError,
    SessionExpiredError,
    find_reply,
    looks_like_html,
    reply_error,
)
from retsctl.rets.sanitize import RepairCounts
from retsctl.rets.search import SearchRequest, SearchResult, SliceFields, TransferInterrupted

log = logging.getLogger("retsctl.rets.session")
T = TypeVar("T")

FORMAT_REFUSED = frozenset({20506, 20513, 20514})
OBJECT_IDS_PER_REQUEST = 25
CHUNK_SIZE = 256 * 1024
NUMERIC_TYPES = frozenset({"Tiny", "Small", "Int", "Long"})
TIMESTAMP_FALLBACKS = ("ModificationTimestamp", "LastModified", "ModificationTimeStamp", "LastModifiedDateTime")


class SessionLostError(RetsAuthError):
    """HTTP 401 on a transaction after a successful login: the server dropped the session."""


class Session:
    """One logged-in conversation with a RETS server. Thread-compatible, not thread-safe."""

    def __init__(self, settings: ConnectionSettings, *, recorder: WireRecorder | None = None) -> None:
        self.settings = settings
        self.recorder = recorder
        self.repairs = RepairCounts()
        self.login_response: LoginResponse | None = None
        self.server_rets_version: str | None = None
        self.server_product: str | None = None
        self.login_elapsed_ms: int | None = None
        self.relogins = 0
        self._http = build_http_session(settings)
        self._auth: AuthBase | None = None if settings.auth == "auto" else auth_for(settings.auth, settings)
        self._metadata: dict[tuple[str, str], MetadataResponse] = {}

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Log out (best effort) and release connections."""
        if self.login_response is not None:
            self.logout()
        self._http.close()
        if self.recorder is not None:
            self.recorder.close()

    # -- Login / logout -----------------------------------------------------------------------

    def login(self) -> LoginResponse:
        """Log in, negotiating Digest or Basic from the server's challenge unless forced."""
        started = time.perf_counter()
        response = self._send("Login", self.settings.login_url, {})
        self.login_response = parse_login_response(response.content, response.url or self.settings.login_url)
        self.login_elapsed_ms = round((time.perf_counter() - started) * 1000)
        self.server_rets_version = response.headers.get("RETS-Version")
        self.server_product = response.headers.get("RETS-Server") or response.headers.get("Server")
        if self.login_response.action_url:
            self._visit_action_url(self.login_response.action_url)
        return self.login_response

    def logout(self) -> dict[str, str]:
        """Log out; failures are ignored (servers may answer anything, even HTML)."""
        url = self.login_response.capability("Logout") if self.login_response else None
        self.login_response = None
        if not url:
            return {}
        try:
            return parse_logout_response(self._send("Logout", url, {}).content)
        except RetsError as error:
            log.info("logout failed (ignored): %s", error)
            return {}

    def _visit_action_url(self, url: str) -> None:
        try:
            self._send("Action", url, {})
        except RetsError as error:
            log.info("Action URL failed (ignored): %s", error)

    def _relogin(self) -> None:
        log.info("session expired; logging in again")
        self.relogins += 1
        self._http.cookies.clear()
        self.login_response = None
        self.login()

    def _with_relogin(self, action: Callable[[], T]) -> T:
        """Run a transaction; when the session expired, log in again once and retry it."""
        try:
            return action()
        except (SessionExpiredError, SessionLostError):
            if self.login_response is None:
                raise
            self._relogin()
            return action()

    # -- HTTP ---------------------------------------------------------------------------------

    def _capability(self, name: str) -> str:
        if self.login_response is None:
            self.login()
        assert self.login_response is not None
        url = self.login_response.capability(name)
        if not url:
            raise RetsProtocolError(
                f"the server did not advertise the {name} capability at login",
                hint="This login may not use that transaction; ask the MLS.",
                transaction=name,
            )
        return url

    def _send(self, transaction: str, url: str, params: Mapping[str, str], *, stream: bool = False,
              headers: Mapping[str, str] | None = None) -> requests.Response:
        """Send one transaction, answering the auth challenge; raises typed errors for failures."""
        response = self._send_once(url, params, stream=stream, headers=headers)
        if response.status_code == 401 and self._auth is None:
            self._auth = self._negotiated_auth(response)
            response.close()
            response = self._send_once(url, params, stream=stream, headers=headers)
        if response.status_code >= 400:
            self._raise_for_status(transaction, response)
        return response

    def _send_once(self, url: str, params: Mapping[str, str], *, stream: bool,
                   headers: Mapping[str, str] | None) -> requests.Response:
        method = self._method_for(url, params)
        extra = dict(headers or {})
        ua_header = ua_authorization_header(self.settings, self._http.cookies.get(self.settings.session_cookie) or "")
        if ua_header:
            extra["RETS-UA-Authorization"] = ua_header
        fields = {"params": params} if method == "GET" else {"data": params}
        # urllib3 retries up to the response headers; a body cut short is asked for again here.
        for attempt in range(self.settings.retries + 1):
            try:
                response = self._http.request(
                    method, url, headers=extra, auth=self._auth, stream=stream,
                    timeout=self.settings.timeout, **fields,
                )
                break
            except requests.exceptions.ChunkedEncodingError as error:
                if stream or attempt == self.settings.retries:
                    raise network_error(error, url) from None
                log.info("the body of %s broke off; asking again", url)
            except requests.RequestException as error:
                raise network_error(error, url) from None
        log_exchange(response)
        if self.recorder is not None and not stream:
            self.recorder.record(response)
        return response

    def _method_for(self, url: str, params: Mapping[str, str]) -> str:
        if self.settings.method == "POST":
            return "POST"
        return "POST" if len(url) + len(urlencode(params)) > MAX_GET_URL else "GET"

    def _negotiated_auth(self, challenge: requests.Response) -> AuthBase:
        offered = challenge_schemes(challenge)
        scheme = choose_scheme(offered)
        if scheme is None:
            raise RetsAuthError(
                f"the server asked for authentication with an unsupported scheme ({', '.join(offered) or 'none'})",
                hint="retsctl speaks Digest and Basic; check the login URL with the MLS.",
            )
        log.debug("server offers %s; using %s", offered, scheme)
        return auth_for(scheme, self.settings)

    def _raise_for_status(self, transaction: str, response: requests.Response) -> None:
        body = response.content
        reply = find_reply(body)
        if reply is not None and reply.code != 0:
            raise reply_error(reply.code, reply.text, transaction=transaction)
        if response.status_code == 401 and self.login_response is not None and transaction != "Login":
            raise SessionLostError(f"{transaction}: the server dropped the session (HTTP 401)")
        error = http_status_error(response, logged_in=self.login_response is not None)
        if response.status_code == 401 and looks_like_html(body) and not challenge_schemes(response):
            error.hint += " The server answered with a web page and no auth challenge, so the URL may not be a RETS login URL."
        raise error

    # -- Metadata -----------------------------------------------------------------------------

    def get_metadata(self, type: str, id: str = "0", *, format: str = "COMPACT") -> MetadataResponse:
        """One GetMetadata call; falls back to the other format when the server refuses one."""
        if not type.upper().startswith("METADATA-"):
            type = f"METADATA-{type.upper()}"
        formats = [format, "STANDARD-XML" if format == "COMPACT" else "COMPACT"]
        for attempt, chosen in enumerate(formats):
            try:
                return self._with_relogin(lambda chosen=chosen: self._fetch_metadata(type, id, chosen))
            except (RetsReplyError, RetsProtocolError) as error:
                refused = isinstance(error, RetsProtocolError) or error.reply_code in FORMAT_REFUSED
                if attempt or not refused:
                    raise
                log.info("metadata format %s refused (%s); trying %s", chosen, error, formats[1])
        raise AssertionError("unreachable")

    def _fetch_metadata(self, type: str, id: str, format: str) -> MetadataResponse:
        url = self._capability("GetMetadata")
        response = self._send("GetMetadata", url, {"Type": type, "ID": id, "Format": format})
        return parse_metadata(response.content, content_type=response.headers.get("Content-Type"))

    def _cached_metadata(self, type: str, id: str) -> MetadataResponse:
        key = (type, id)
        if key not in self._metadata:
            self._metadata[key] = self.get_metadata(type, id)
        return self._metadata[key]

    def resources(self) -> list[Resource]:
        return self._cached_metadata("METADATA-RESOURCE", "0").resources()

    def classes(self, resource: str) -> list[MetadataClass]:
        return self._cached_metadata("METADATA-CLASS", resource).classes()

    def fields(self, resource: str, class_name: str) -> list[Field]:
        return self._cached_metadata("METADATA-TABLE", f"{resource}:{class_name}").fields()

    def lookup_values(self, resource: str, lookup: str) -> list[LookupValue]:
        return self._cached_metadata("METADATA-LOOKUP_TYPE", f"{resource}:{lookup}").lookup_values()

    def object_types(self, resource: str) -> list[ObjectType]:
        return self._cached_metadata("METADATA-OBJECT", resource).object_types()

    def resource(self, resource_id: str) -> Resource:
        for found in self.resources():
            if found.resource_id.lower() == resource_id.lower():
                return found
        raise RetsError(f"the server has no resource {resource_id!r}",
                        hint="List the resources with `retsctl metadata resources`.")

    def slice_fields(self, resource: str, class_name: str) -> SliceFields:
        """Key and timestamp fields of a class, for slicing when Offset paging fails."""
        key_field = self.resource(resource).key_field
        fields = {f.system_name: f for f in self.fields(resource, class_name)}
        timestamp = next((c.class_timestamp for c in self.classes(resource)
                          if c.class_name == class_name and c.class_timestamp), None)
        timestamp = timestamp or next((name for name in TIMESTAMP_FALLBACKS if name in fields), None)
        key = fields.get(key_field)
        numeric = key is not None and key.data_type in NUMERIC_TYPES
        return SliceFields(key_field=key_field, key_is_numeric=numeric, timestamp_field=timestamp)

    # -- Search -------------------------------------------------------------------------------

    def search(self, resource: str, class_name: str, query: str, *, select: Sequence[str] | None = None,
               limit: int | None = None, offset: int | None = None, format: str = "COMPACT-DECODED",
               page_size: int | None = None, count: bool = True, standard_names: bool = False,
               restricted_indicator: str | None = None) -> SearchResult:
        """All records matching ``query``, streamed across as many pages as it takes.

        ``limit`` caps the total; ``page_size`` is the Limit of each request (default: the
        server's own cap). Records are dicts of SystemName → string exactly as sent.
        """
        request = SearchRequest(
            resource=resource, class_name=class_name, query=query,
            select=tuple(select) if select else None, limit=limit, offset=offset, format=format,
            page_size=page_size, count=count, standard_names=standard_names,
            restricted_indicator=restricted_indicator,
        )
        return SearchResult(request, self._open_search_page, lambda: self.slice_fields(resource, class_name),
                            lambda: self.resource(resource).key_field)

    def count(self, resource: str, class_name: str, query: str) -> int:
        """The server's COUNT for ``query`` (Count=2: no records are sent)."""
        params = SearchRequest(resource, class_name, query).params(count_mode=2)
        with self._open_search_page(params) as page:
            for _ in page:
                pass
            return page.count or 0

    @contextmanager
    def _open_search_page(self, params: dict[str, str]) -> Iterator[SearchReader]:
        response, reader = self._with_relogin(lambda: self._start_search(params))
        try:
            yield reader
        finally:
            response.close()

    def _start_search(self, params: dict[str, str]) -> tuple[requests.Response, SearchReader]:
        response = self._send("Search", self._capability("Search"), params, stream=True)
        chunks: Iterator[bytes] = _guarded_chunks(response)
        if self.recorder is not None:
            chunks = self.recorder.tee(response, chunks)
        reader = SearchReader(chunks, format=params["Format"], content_type=response.headers.get("Content-Type"),
                              repairs=self.repairs)
        try:
            reader.read_header()
        except BaseException:
            response.close()
            raise
        return response, reader

    # -- Objects ------------------------------------------------------------------------------

    def get_objects(self, resource: str, type: str, ids: Sequence[str], *, location: bool = False,
                    ids_per_request: int = OBJECT_IDS_PER_REQUEST) -> Iterator[RetsObject]:
        """Objects of many listings, several per request; per-object errors stay on the object.

        An id without ``:`` asks for every object of that listing (``key:*``).
        """
        wanted = [i if ":" in i else f"{i}:*" for i in ids]
        for start in range(0, len(wanted), ids_per_request):
            batch = ",".join(wanted[start : start + ids_per_request])
            yield from self._object_batch(resource, type, batch, location)

    def _object_batch(self, resource: str, type: str, batch: str, location: bool) -> Iterator[RetsObject]:
        params = {"Resource": resource, "Type": type, "ID": batch, "Location": "1" if location else "0"}
        response = self._with_relogin(
            lambda: self._send("GetObject", self._capability("GetObject"), params, stream=True)
        )
        try:
            chunks: Iterator[bytes] = _guarded_chunks(response)
            if self.recorder is not None:
                chunks = self.recorder.tee(response, chunks)
            yield from read_objects(response.headers.get("Content-Type", ""), response.headers, chunks)
        finally:
            response.close()


def _guarded_chunks(response: requests.Response) -> Iterator[bytes]:
    """The body in chunks; a connection broken mid-body becomes :class:`TransferInterrupted`."""
    try:
        yield from response.iter_content(CHUNK_SIZE)
    except requests.RequestException as error:
        raise TransferInterrupted(
            f"the connection broke while reading {response.url}: {type(error).__name__}",
            hint="The server or network dropped the transfer; retsctl asks again a few times.",
        ) from None

