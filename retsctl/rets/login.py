"""Login and Logout reply bodies: the ``key=value`` lines inside ``<RETS-RESPONSE>``.

Lenient by design (protocol digest §2, §8): CRLF or LF, indentation, spaces around ``=``, ``=`` inside
values, empty values, RETS 1.0 bodies without the ``<RETS-RESPONSE>`` wrapper, RETS 1.8
``Info=NAME;Type;Value`` tokens, and keys in any case. Capability URLs are resolved against the URL
the client logged in with; their names stay exactly as the server sent them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urljoin

from retsctl.rets.replies import (
    Reply,
    RetsProtocolError,
    find_reply,
    looks_like_html,
    raise_for_reply,
)
from retsctl.rets.sanitize import RepairCounts, TextDecoder, declared_xml_encoding, resolve_encoding, unescape_text

# Capability-url-list keys (1.7.2 §4.10 plus the 1.8 transactions). ``X-`` keys count when they hold a URL.
CAPABILITY_NAMES = frozenset(
    name.lower()
    for name in (
        "Login",
        "Search",
        "GetMetadata",
        "GetObject",
        "Logout",
        "Action",
        "ChangePassword",
        "Update",
        "ServerInformation",
        "LoginComplete",
        "GetPayloadList",
        "PostObject",
    )
)

_NOT_RETS_HINT = (
    "The URL is not a RETS login URL (the server answered with a web page); check the login URL with the MLS."
)


@dataclass
class LoginResponse:
    """What a successful Login told the client.

    ``info`` holds every key as sent (1.8 ``Info`` tokens flattened to their NAME); ``info_types``
    the declared type of each Info token. Use :meth:`get` and :meth:`capability` for
    case-insensitive lookups.
    """

    reply: Reply
    capabilities: dict[str, str]
    member: str | None = None
    broker: str | None = None
    user: str | None = None
    metadata_version: str | None = None
    metadata_timestamp: str | None = None
    min_metadata_version: str | None = None
    min_metadata_timestamp: str | None = None
    timeout_seconds: int | None = None
    info: dict[str, str] = field(default_factory=dict)
    info_types: dict[str, str] = field(default_factory=dict)
    action_url: str | None = None

    def get(self, key: str) -> str | None:
        """The value of ``key`` (any case), or None when the server did not send it."""
        return _lookup(self.info, key)

    def capability(self, name: str) -> str | None:
        """The absolute URL of capability ``name`` (any case), or None."""
        return _lookup(self.capabilities, name)


def parse_login_response(body: bytes, login_url: str) -> LoginResponse:
    """Parse a Login reply body; raises the typed reply error for a non-zero ReplyCode.

    HTML pages and bodies without a ``<RETS>`` reply raise :class:`RetsProtocolError`.
    """
    reply = _require_reply(body, transaction="Login")
    pairs = _key_value_lines(body)
    if not reply.ok:
        brokers = [value for key, value in pairs if key.lower() == "broker" and value]
        raise_for_reply(reply, transaction="Login", detail=f"brokers: {'; '.join(brokers)}" if brokers else "")
    info, info_types = _flatten_info(pairs)
    capabilities = _capability_urls(pairs, login_url)

    def value(*keys: str) -> str | None:
        return next((found for key in keys if (found := _lookup(info, key)) is not None), None)

    broker = value("Broker")

    return LoginResponse(
        reply=reply,
        capabilities=capabilities,
        member=value("MemberName"),
        broker=broker if broker is not None else _joined(value("BrokerCode"), value("BrokerBranch")),
        user=value("User", "UserID"),
        metadata_version=value("MetadataVersion"),
        metadata_timestamp=value("MetadataTimestamp"),
        min_metadata_version=value("MinMetadataVersion"),
        min_metadata_timestamp=value("MinMetadataTimestamp"),
        timeout_seconds=_as_int(value("TimeoutSeconds")),
        info=info,
        info_types=info_types,
        action_url=_lookup(capabilities, "Action"),
    )


def parse_logout_response(body: bytes) -> dict[str, str]:
    """The ``key=value`` pairs of a Logout reply (``ConnectTime``, ``Billing``, ``SignOffMessage``…).

    Bare text or an empty ``<RETS-RESPONSE/>`` gives ``{}``; a non-zero ReplyCode (20701…) raises
    the typed error, an HTML page :class:`RetsProtocolError`. Callers treat Logout as best-effort.
    """
    raise_for_reply(_require_reply(body, transaction="Logout"), transaction="Logout")
    return dict(_key_value_lines(body))


def _require_reply(body: bytes, *, transaction: str) -> Reply:
    if looks_like_html(body):
        hint = _NOT_RETS_HINT if transaction == "Login" else "The server answered with a web page, not RETS XML."
        raise RetsProtocolError(
            f"{transaction} answered with an HTML page, not a RETS reply", hint=hint, transaction=transaction
        )
    reply = find_reply(body)
    if reply is None:
        raise RetsProtocolError(
            f"{transaction} answer holds no RETS reply: {body[:80]!r}",
            hint=_NOT_RETS_HINT if transaction == "Login" else "",
            transaction=transaction,
        )
    return reply


_RESPONSE_BLOCK = re.compile(rb"<RETS-RESPONSE\s*>(.*?)</RETS-RESPONSE\s*>", re.IGNORECASE | re.DOTALL)
_RETS_BLOCK = re.compile(rb"<RETS(?=[\s>])[^>]*>(.*?)(?:</RETS\s*>|\Z)", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(rb"<[^>]*>")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_ABSOLUTE_URL = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)


def _key_value_lines(body: bytes) -> list[tuple[str, str]]:
    """Every ``key=value`` line of the reply, trimmed and entity-decoded, in order."""
    block = _RESPONSE_BLOCK.search(body) or _RETS_BLOCK.search(body)
    if block is None:
        return []
    # RETS 1.0 puts the lines directly under <RETS>; drop any child tags such as RETS-STATUS.
    repairs = RepairCounts()
    decoder = TextDecoder(resolve_encoding(declared_xml_encoding(body), None), repairs)
    text = unescape_text(decoder.decode(_TAG.sub(b"\n", block.group(1))), repairs)
    pairs = []
    for line in _LINE_BREAK.split(text):
        key, sep, value = line.partition("=")
        if sep and key.strip():
            pairs.append((key.strip(), value.strip()))
    return pairs


def _flatten_info(pairs: list[tuple[str, str]]) -> tuple[dict[str, str], dict[str, str]]:
    """Keys as sent; ``Info=NAME;Type;Value`` becomes ``NAME: Value``. A later line wins, in any case."""
    info: dict[str, str] = {}
    types: dict[str, str] = {}
    for key, value in pairs:
        if key.lower() == "info":
            name, _, rest = value.partition(";")
            info_type, _, info_value = rest.partition(";")
            key, value = name.strip(), info_value.strip()
            _store(types, key, info_type.strip())
        if key:
            _store(info, key, value)
    return info, types


def _store(mapping: dict[str, str], key: str, value: str) -> None:
    for existing in [k for k in mapping if k.lower() == key.lower()]:
        del mapping[existing]
    mapping[key] = value


def _capability_urls(pairs: list[tuple[str, str]], login_url: str) -> dict[str, str]:
    capabilities: dict[str, str] = {}
    for key, value in pairs:
        if value and _is_capability(key, value):
            _store(capabilities, key, urljoin(login_url, value))
    return capabilities


def _is_capability(key: str, value: str) -> bool:
    if key.lower() in CAPABILITY_NAMES:
        return True
    return key.lower().startswith("x-") and (value.startswith("/") or _ABSOLUTE_URL.match(value) is not None)


def _lookup(mapping: dict[str, str], key: str) -> str | None:
    wanted = key.lower()
    return next((value for name, value in mapping.items() if name.lower() == wanted), None)


def _joined(*parts: str | None) -> str | None:
    present = [part for part in parts if part]
    return ",".join(present) if present else None


def _as_int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
