"""RETS reply codes and the typed errors every part of the client raises.

Each documented ReplyCode maps to an error class (which decides the CLI exit code through its
``kind``), the spec's meaning, and a hint an operator can act on. Unknown codes are classified by
their range (202xx search, 204xx objects, 205xx metadata...) and always keep the server's text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Codes that are outcomes, not failures.
SUCCESS = 0
NO_RECORDS = 20201
MAX_RECORDS_EXCEEDED = 20208
NO_OBJECT = 20403
UA_AUTH_FAILED = 20037


class RetsError(Exception):
    """Base of every error the RETS client raises.

    ``kind`` is one of ``auth`` (credentials or authorization), ``server`` (a RETS reply code or
    a malformed answer), ``network`` (transport, TLS, timeouts, HTTP 5xx) and ``input`` (a request
    the client refused to send, such as malformed DMQL). Faces map kinds to exit codes.
    """

    kind = "server"

    def __init__(
        self,
        message: str,
        *,
        hint: str = "",
        reply_code: int | None = None,
        transaction: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.reply_code = reply_code
        self.transaction = transaction

    def to_dict(self) -> dict[str, object]:
        """The contract's error shape: ``{"kind", "message", "hint", "reply_code"}``."""
        return {
            "kind": self.kind,
            "message": self.message,
            "hint": self.hint,
            "reply_code": self.reply_code,
        }


class RetsAuthError(RetsError):
    """Login refused: bad password, UA-Auth, blocked account or forbidden transaction."""

    kind = "auth"


class RetsNetworkError(RetsError):
    """The server could not be reached or did not answer properly (DNS, TLS, timeout, 5xx)."""

    kind = "network"


class RetsProtocolError(RetsError):
    """The server answered something that is not RETS (HTML page, garbage, truncated body)."""

    kind = "server"


class RetsReplyError(RetsError):
    """A transaction ended in a non-zero RETS ReplyCode."""

    kind = "server"

    def __init__(
        self,
        code: int,
        text: str,
        *,
        transaction: str | None = None,
        hint: str = "",
        detail: str = "",
    ) -> None:
        meaning = REPLY_CODES[code].meaning if code in REPLY_CODES else _range_meaning(code)
        shown = text.strip() or meaning
        message = f"RETS reply {code}: {shown}"
        if transaction:
            message = f"{transaction} failed: {message}"
        if detail:
            message = f"{message} ({detail.strip()})"
        super().__init__(message, hint=hint, reply_code=code, transaction=transaction)
        self.code = code
        self.text = text
        self.meaning = meaning
        self.detail = detail


class RetsReplyAuthError(RetsReplyError, RetsAuthError):
    """A reply code that means the credentials or their rights are the problem."""

    kind = "auth"


class SessionExpiredError(RetsReplyAuthError):
    """20037 / 401 after login: the session is gone; the session layer logs in again once."""


@dataclass(frozen=True)
class ReplyCode:
    code: int
    transaction: str
    meaning: str
    hint: str
    error: type[RetsReplyError] = RetsReplyError


_AUTH = RetsReplyAuthError
_CHECK_LOGIN = "Check the username, password and login URL with the MLS."
_RETRY_LATER = "The server is busy or throttling; retry later with fewer parallel requests."
_SHOW_TEXT = "Read the server's text above; it usually names the problem."

REPLY_CODES: dict[int, ReplyCode] = {
    rc.code: rc
    for rc in [
        ReplyCode(0, "all", "success", ""),
        ReplyCode(10000, "all", "system error", "The server failed internally; retry later or contact the MLS."),
        ReplyCode(20003, "Login", "zero balance on the account", "The account has no balance; contact the MLS billing desk.", _AUTH),
        ReplyCode(20012, "Login", "broker code required", "Retry the login with one of the listed broker codes (BrokerCode=).", _AUTH),
        ReplyCode(20013, "Login", "broker code invalid for this user", "Use a broker code this user belongs to.", _AUTH),
        ReplyCode(20022, "Login", "additional login not permitted", "Another session is open for this user; log it out or wait for it to expire.", _AUTH),
        ReplyCode(20036, "Login", "miscellaneous login error", _SHOW_TEXT + " A wrong RETS-Version (try --rets-version RETS/1.8 or RETS/1.5) is a common cause.", _AUTH),
        ReplyCode(20037, "any", "user-agent authentication failed", "Check --user-agent and --ua-password (or the session expired: log in again).", SessionExpiredError),
        ReplyCode(20041, "Login", "user-agent authentication required", "This server requires UA-Auth: pass --user-agent and --ua-password from the MLS.", _AUTH),
        ReplyCode(20050, "Login", "server temporarily disabled", _RETRY_LATER),
        ReplyCode(20140, "ChangePassword", "new password is insecure", "Choose a stronger password."),
        ReplyCode(20141, "ChangePassword", "new password same as old", "Choose a different password."),
        ReplyCode(20142, "ChangePassword", "encrypted user name invalid", "The client encrypted the password change wrongly."),
        ReplyCode(20200, "Search", "unknown field in query", "Check the field names against `retsctl metadata fields RESOURCE CLASS` (SystemName, or StandardName with StandardNames=1)."),
        ReplyCode(20201, "Search", "no records found", "Nothing matched the query."),
        ReplyCode(20202, "Search", "invalid Select", "Remove unknown fields from --select; list them with `retsctl metadata fields`."),
        ReplyCode(20203, "Search", "miscellaneous search error", _SHOW_TEXT + " Check the resource and class names and the query."),
        ReplyCode(20205, "Search", "invalid query syntax (non-standard code)", "Check the DMQL2 query syntax."),
        ReplyCode(20206, "Search", "invalid query syntax", "Check the DMQL2 query: every criterion in parentheses, lookup codes (not long values), ISO dates."),
        ReplyCode(20207, "Search", "unauthorized query", "This login may not search that field or class; ask the MLS for access.", _AUTH),
        ReplyCode(20208, "Search", "maximum records exceeded", "The server capped the result; retsctl pages on automatically."),
        ReplyCode(20209, "Search", "search timed out", "Narrow the query (a smaller date window or fewer fields) and retry."),
        ReplyCode(20210, "Search", "too many outstanding queries", _RETRY_LATER),
        ReplyCode(20211, "Search", "query too complex", "Split the query into simpler ones (fewer lookup values or less nesting)."),
        ReplyCode(20212, "Search", "invalid key request", "Key requests are deprecated; use a normal query."),
        ReplyCode(20213, "Search", "invalid key", "Key requests are deprecated; use a normal query."),
        ReplyCode(20301, "Update", "invalid update parameter", _SHOW_TEXT),
        ReplyCode(20302, "Update", "unable to save record", _SHOW_TEXT),
        ReplyCode(20303, "Update", "miscellaneous update error", _SHOW_TEXT),
        ReplyCode(20311, "Update", "WarningResponse missing", _SHOW_TEXT),
        ReplyCode(20312, "Update", "WarningResponse not allowed", _SHOW_TEXT),
        ReplyCode(20400, "GetObject", "invalid resource", "Check the resource name with `retsctl metadata resources`."),
        ReplyCode(20401, "GetObject", "invalid object type", "Check the object type with `retsctl metadata objects RESOURCE`."),
        ReplyCode(20402, "GetObject", "invalid identifier", "Object IDs are the resource's KeyField values (see `metadata resources`)."),
        ReplyCode(20403, "GetObject", "no object found", "The listing has no object of that type."),
        ReplyCode(20406, "GetObject", "unsupported MIME type", "The server has none of the accepted media types for this object."),
        ReplyCode(20407, "GetObject", "unauthorized retrieval", "This login may not fetch these objects; ask the MLS for media access.", _AUTH),
        ReplyCode(20408, "GetObject", "resource unavailable", _RETRY_LATER),
        ReplyCode(20409, "GetObject", "object unavailable", "The object is temporarily unavailable; retry later."),
        ReplyCode(20410, "GetObject", "request too large", "Ask for fewer objects per request."),
        ReplyCode(20411, "GetObject", "object request timed out", "Ask for fewer objects per request and retry."),
        ReplyCode(20412, "GetObject", "too many outstanding requests", _RETRY_LATER),
        ReplyCode(20413, "GetObject", "miscellaneous object error", _SHOW_TEXT),
        ReplyCode(20414, "GetObject", "Location=1 not supported", "This server cannot send photo URLs; fetch the binary objects instead (omit --location)."),
        ReplyCode(20500, "GetMetadata", "invalid resource", "Check the resource name with `retsctl metadata resources`."),
        ReplyCode(20501, "GetMetadata", "invalid metadata type", "The server does not offer that metadata type."),
        ReplyCode(20502, "GetMetadata", "invalid metadata ID", "Check the resource, class or lookup name."),
        ReplyCode(20503, "GetMetadata", "no metadata found", "The server has no metadata of that type for that ID."),
        ReplyCode(20506, "GetMetadata", "unsupported metadata format", "retsctl retries in the other format (COMPACT or STANDARD-XML)."),
        ReplyCode(20507, "GetMetadata", "unauthorized metadata retrieval", "This login may not read that metadata.", _AUTH),
        ReplyCode(20508, "GetMetadata", "metadata resource unavailable", _RETRY_LATER),
        ReplyCode(20509, "GetMetadata", "metadata unavailable", _RETRY_LATER),
        ReplyCode(20510, "GetMetadata", "metadata request too large", "Ask for one resource or class at a time instead of ID=*."),
        ReplyCode(20511, "GetMetadata", "metadata request timed out", "Ask for one resource or class at a time."),
        ReplyCode(20512, "GetMetadata", "too many outstanding metadata requests", _RETRY_LATER),
        ReplyCode(20513, "GetMetadata", "miscellaneous metadata error", "retsctl retries in the other format; " + _SHOW_TEXT),
        ReplyCode(20514, "GetMetadata", "requested DTD version unavailable", "Ask for plain STANDARD-XML or COMPACT."),
        ReplyCode(20601, "ServerInformation", "not supported", ""),
        ReplyCode(20602, "ServerInformation", "miscellaneous error", _SHOW_TEXT),
        ReplyCode(20701, "Logout", "not logged in", "The session had already ended."),
        ReplyCode(20702, "Logout", "miscellaneous logout error", _SHOW_TEXT),
    ]
}

_RANGES = [
    (20000, 20099, "Login", "login error"),
    (20100, 20199, "ChangePassword", "password change error"),
    (20200, 20299, "Search", "search error"),
    (20300, 20399, "Update", "update error"),
    (20400, 20499, "GetObject", "object error"),
    (20500, 20599, "GetMetadata", "metadata error"),
    (20600, 20699, "ServerInformation", "server information error"),
    (20700, 20799, "Logout", "logout error"),
    (20800, 20899, "PostObject", "object update error"),
]


def _range_meaning(code: int) -> str:
    for low, high, _transaction, meaning in _RANGES:
        if low <= code <= high:
            return f"{meaning} (undocumented code)"
    return "unknown reply code"


def reply_error(code: int, text: str, *, transaction: str | None = None, detail: str = "") -> RetsReplyError:
    """The typed error for a non-success reply code, with the operator hint for it."""
    known = REPLY_CODES.get(code)
    if known is not None:
        return known.error(code, text, transaction=transaction, hint=known.hint, detail=detail)
    error_class = RetsReplyAuthError if 20000 <= code <= 20099 else RetsReplyError
    return error_class(code, text, transaction=transaction, hint=_SHOW_TEXT, detail=detail)


_ATTR = r"""\s+{name}\s*=\s*(?:"([^"]*)"|'([^']*)')"""
_RETS_OPEN = re.compile(rb"<RETS(?=[\s>/])[^>]*>", re.IGNORECASE)
_STATUS_OPEN = re.compile(rb"<RETS-STATUS(?=[\s>/])[^>]*>", re.IGNORECASE)
_CODE_ATTR = re.compile(_ATTR.format(name="ReplyCode").encode(), re.IGNORECASE)
_TEXT_ATTR = re.compile(_ATTR.format(name="ReplyText").encode(), re.IGNORECASE)


@dataclass(frozen=True)
class Reply:
    """The ReplyCode/ReplyText a RETS body ends with (RETS-STATUS overrides the opening tag)."""

    code: int
    text: str

    @property
    def ok(self) -> bool:
        return self.code == SUCCESS


def _tag_reply(tag: bytes) -> Reply | None:
    code = _CODE_ATTR.search(tag)
    if code is None:
        return None
    raw = (code.group(1) or code.group(2) or b"").strip()
    if not raw.lstrip(b"-").isdigit():
        return None
    text = _TEXT_ATTR.search(tag)
    reply_text = (text.group(1) or text.group(2) or b"") if text else b""
    return Reply(int(raw), reply_text.decode("utf-8", "replace"))


def find_reply(body: bytes) -> Reply | None:
    """The reply carried by a whole (small) RETS body, or None when it holds no ``<RETS>`` tag.

    Tolerant by design: attribute names in any case, single or double quotes, no XML
    declaration, text after the tag. A trailing ``RETS-STATUS`` takes precedence.
    """
    statuses = [found for found in map(_tag_reply, (m.group(0) for m in _STATUS_OPEN.finditer(body))) if found]
    if statuses:
        return statuses[-1]
    opening = _RETS_OPEN.search(body)
    return _tag_reply(opening.group(0)) if opening else None


def raise_for_reply(reply: Reply, *, transaction: str, detail: str = "") -> None:
    """Raise the typed error for a failing reply; 0 passes silently."""
    if reply.code != SUCCESS:
        raise reply_error(reply.code, reply.text, transaction=transaction, detail=detail)


_HTML = re.compile(rb"^\s*(?:<!DOCTYPE\s+html|<html)", re.IGNORECASE)


def looks_like_html(body: bytes) -> bool:
    """An HTML page where RETS XML was expected (proxy error pages, login portals, WAF blocks)."""
    return bool(_HTML.match(body[:512]))
