"""Opt-in misbehaviours of real RETS servers that the simulator can reproduce.

Every quirk is off by default. "Every Nth request" quirks count the requests that passed
authentication (401 challenges are not counted), across all sessions, starting at 1 with the
Login itself: ``fail_5xx_every=3`` fails requests 3, 6, 9, ...
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Literal

# A private-use character that marks where the stray Windows-1252 byte goes: rows are built as
# text and encoded to UTF-8, and only then is the marker's encoding swapped for the raw byte.
STRAY_BYTE_MARKER = "\ue000"
STRAY_BYTE = b"\x92"  # Windows-1252 right single quotation mark, invalid on its own in UTF-8

# What ``invalid_chars`` appends to the PublicRemarks of an affected listing, already in wire form:
# a raw vertical tab, a character reference to a control character, the emoji U+1F3E1 written as
# two surrogate references (how some Windows servers encode astral characters), and the stray byte.
CORRUPTION_SUFFIX = " Call now\x0b!&#1; Dream home &#xD83C;&#xDFE1; seller" + STRAY_BYTE_MARKER + "s motivated."


@dataclass
class Quirks:
    """Server misbehaviours, each opt-in.

    Attributes:
        slow_ms: sleep this many milliseconds before answering every request.
        fail_5xx_every: answer every Nth request with HTTP 503 and an HTML error page.
        drop_connection_every: on every Nth request send the headers and part of the body, then
            close the socket mid-response.
        truncate_body_every: on every Nth request announce a Content-Length larger than the body
            actually sent, send the body, then close the connection.
        invalid_chars: about one listing in ten gets, appended to its PublicRemarks in Search
            answers, a raw control character, a reference to a control character, an emoji written
            as two surrogate character references, and a stray Windows-1252 byte (0x92). Which
            listings: remarks_corrupted(ListingKey); what: CORRUPTION_SUFFIX.
        expire_session_after: a session expires after this many transactions following its
            Login; every later request with that session gets ReplyCode 20037 (HTTP 200).
            Logging in again gives a fresh session.
        maxrows_on_full_last_page: send ``<MAXROWS/>`` when a page is full (it returned exactly
            Limit or page-cap rows) even though no further record exists; the next page then
            answers 20201.
        count_off_by_one: ``<COUNT Records>`` reports one more record than matched.
        offset: ``"on"`` honours Offset; ``"ignored"`` always answers from the first record;
            ``"refused"`` answers any request carrying an Offset argument (even 1) with 20203
            "Offset not supported".
        auth: ``"digest"`` (RFC 2617, qop=auth, MD5) or ``"basic"``; with ``"basic"`` a Digest
            Authorization header is refused with another Basic challenge.
        ua_auth: ``"off"``; ``"standard"`` requires ``RETS-UA-Authorization`` computed over the
            whole User-Agent value, RETS-Request-ID, the RETS-Session-ID cookie and RETS-Version;
            ``"interealty"`` uses only the product part of the User-Agent (before ``/``) and empty
            request and session ids. A missing header answers 20041, a wrong one 20037.
        rets_status_in_body: every RETS reply opens with ``ReplyCode="0"`` and carries the real
            code in a trailing ``<RETS-STATUS>``.
        capability_query_strings: capability URLs carry their own query string
            (``/rets/search?vendor=sim``) and requests to them without ``vendor=sim`` get HTTP 404,
            so a client must keep the query string when it adds its arguments.
        capability_absolute_urls: capability URLs are absolute URLs (``http://127.0.0.1:PORT``)
            under another path prefix (``/other/...``) instead of paths relative to the login URL.
        refuse_metadata_format: ``"COMPACT"`` or ``"STANDARD-XML"``: GetMetadata in that format
            answers ``refuse_metadata_code`` so a client must fall back to the other format.
        refuse_metadata_code: the reply code for a refused metadata format (20513 or 20506).
        nonce_max_uses: a Digest nonce goes stale after this many requests (0 = only its age
            limit); the server then answers 401 with ``stale=true`` mid-session.
    """

    slow_ms: int = 0
    fail_5xx_every: int = 0
    drop_connection_every: int = 0
    truncate_body_every: int = 0
    invalid_chars: bool = False
    expire_session_after: int = 0
    maxrows_on_full_last_page: bool = False
    count_off_by_one: bool = False
    offset: Literal["on", "ignored", "refused"] = "on"
    auth: Literal["digest", "basic"] = "digest"
    ua_auth: Literal["off", "standard", "interealty"] = "off"
    rets_status_in_body: bool = False
    capability_query_strings: bool = False
    capability_absolute_urls: bool = False
    refuse_metadata_format: Literal["", "COMPACT", "STANDARD-XML"] = ""
    refuse_metadata_code: int = 20513
    nonce_max_uses: int = 0

    def hits(self, every: int, request_number: int) -> bool:
        """Whether an "every Nth request" quirk set to ``every`` applies to this request."""
        return every > 0 and request_number % every == 0


def remarks_corrupted(listing_key: str) -> bool:
    """Whether ``invalid_chars`` corrupts this listing's PublicRemarks (about one in ten)."""
    return zlib.crc32(listing_key.encode("ascii")) % 10 == 0
