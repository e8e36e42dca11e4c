"""The ``supabase`` sink: upserts through supabase-py (PostgREST) with the project URL and a secret key.

One request per batch (about 500 rows or 1 MB, every row with the same keys, since a missing key
would set its column to NULL): ``POST /rest/v1/properties?on_conflict=team_id,source,external_id``
with ``Prefer: return=minimal,count=exact,resolution=merge-duplicates``. PostgREST runs a request as
one transaction, and the client never retries a POST, so this module does: backoff on timeouts,
5xx, 429 and statement timeouts (57014), halving the batch when its size may be the cause; a data
error (400/409) bisects the batch so only the bad rows are quarantined.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import httpx
import orjson
from postgrest.exceptions import APIError
from postgrest.types import CountMethod, ReturnMethod
from supabase import ClientOptions, SupabaseException, create_client

from retsctl.properties import PropertyRow
from retsctl.sinks.base import (
    CONFLICT_COLUMNS,
    DEFAULT_RETRY,
    Batch,
    PushResult,
    RejectedRows,
    RetryPolicy,
    SinkAuthError,
    SinkError,
    SinkUsageError,
    TransientFailure,
    push_rows,
)

DEFAULT_BATCH_ROWS = 500
DEFAULT_BATCH_BYTES = 1_000_000
DEFAULT_REQUEST_TIMEOUT = 30.0
TABLE = "properties"
_MIGRATE_HINT = "Run `retsctl db migrate --dsn DSN` (or paste `retsctl db sql` into the SQL editor) first."
# PostgREST's own codes for "cannot reach the database" (503/504): worth retrying.
_PGRST_UNAVAILABLE = ("PGRST000", "PGRST001", "PGRST002", "PGRST003")
_PGRST_NO_TABLE = ("PGRST204", "PGRST205")


class SupabaseSink:
    """Pushes property rows into a Supabase project's ``properties`` table over its REST API.

    ``transport`` replaces httpx's network transport (tests); the client it builds is handed to
    supabase-py through ``ClientOptions(httpx_client=…)``.
    """

    name = "supabase"

    def __init__(
        self,
        url: str,
        key: str,
        *,
        retry: RetryPolicy = DEFAULT_RETRY,
        batch_rows: int = DEFAULT_BATCH_ROWS,
        batch_bytes: int = DEFAULT_BATCH_BYTES,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._url = url
        self._retry = retry
        self._batch_rows = batch_rows
        self._batch_bytes = batch_bytes
        self._request_timeout = request_timeout
        self._last_response: httpx.Response | None = None
        self._http = httpx.Client(transport=transport, timeout=request_timeout,
                                  event_hooks={"response": [self._remember]})
        try:
            self._client = create_client(url, key, options=ClientOptions(
                httpx_client=self._http, auto_refresh_token=False, persist_session=False))
        except SupabaseException as error:
            self._http.close()
            raise SinkUsageError(f"cannot use Supabase at {url!r}: {error.message}",
                                 hint="SUPABASE_URL is the project URL, e.g. https://abcd.supabase.co") from error

    def __repr__(self) -> str:
        return f"SupabaseSink(url={self._url!r})"  # never the key

    def push(self, rows: Sequence[PropertyRow]) -> PushResult:
        """Upsert the rows in batches; returns confirmed and quarantined keys. Raises SinkError."""
        return push_rows(rows, self._send, self._retry, sink=self.name, max_rows=self._batch_rows,
                         max_bytes=self._batch_bytes, size_of=_json_size)

    def close(self) -> None:
        self._http.close()

    def _remember(self, response: httpx.Response) -> None:
        # APIError lacks the HTTP status; keep the response it came from.
        self._last_response = response

    def _send(self, batch: Batch, seconds_left: float) -> int:
        self._http.timeout = httpx.Timeout(min(self._request_timeout, max(seconds_left, 1.0)))
        self._last_response = None
        rows = [{column: _json_value(row[column]) for column in batch.columns} for row in batch.rows]
        try:
            response = (
                self._client.table(TABLE)
                .upsert(rows, on_conflict=CONFLICT_COLUMNS, returning=ReturnMethod.minimal, count=CountMethod.exact)
                .execute()
            )
        except httpx.TimeoutException as error:
            raise TransientFailure(f"request timed out ({type(error).__name__})", shrink=True) from error
        except httpx.TransportError as error:
            raise TransientFailure(f"network error: {error}") from error
        except APIError as error:
            raise self._classify(error, len(rows)) from error
        return len(rows) if response.count is None else response.count

    def _classify(self, error: APIError, batch_size: int) -> Exception:
        """What a PostgREST error means for the batch: retry (maybe halved), bisect, or give up."""
        response = self._last_response
        status = response.status_code if response is not None else 0
        code = error.code or ""
        sqlstate = code if len(code) == 5 else ""  # else PGRST…, or the HTTP status when the body was not JSON
        reason = _reason(status, error)
        if status == 413:  # too large: halve, until a single row is too large on its own
            return RejectedRows(reason) if batch_size == 1 else TransientFailure(reason, shrink=True)
        if sqlstate == "57014":
            return TransientFailure(reason, shrink=True)
        if status == 429 or status == 503 or code in _PGRST_UNAVAILABLE or sqlstate.startswith(("08", "57P", "40")):
            return TransientFailure(reason, retry_after=_retry_after(response))
        if status >= 500:
            return TransientFailure(reason, shrink=True, retry_after=_retry_after(response))
        if status in (401, 403) or sqlstate.startswith("28") or sqlstate == "42501" or code.startswith("PGRST3"):
            return SinkAuthError(f"Supabase refused the request: {reason}",
                                 hint="Use the project's service-role (secret) key: SUPABASE_SERVICE_ROLE_KEY or the keyring.")
        if code in _PGRST_NO_TABLE or sqlstate in ("42P01", "42703") or status == 404:
            return SinkError(f"Supabase lacks retsctl's table or columns: {reason}", hint=_MIGRATE_HINT)
        if sqlstate.startswith(("22", "23")) or (status in (400, 409, 422) and not code.startswith(("PGRST", "42"))):
            return RejectedRows(reason)
        return SinkError(f"supabase push failed: {reason}", hint="See PostgREST's message above.")


def _json_value(value: Any) -> Any:
    # Decimal as text keeps every digit; PostgREST's json_populate_recordset casts it to numeric.
    return str(value) if isinstance(value, Decimal) else value


def _json_size(row: Mapping[str, Any]) -> int:
    return len(orjson.dumps(row, default=str))


def _reason(status: int, error: APIError) -> str:
    parts = [f"HTTP {status}" if status else "", error.code or "", error.message or ""]
    text = " ".join(p for p in parts if p)
    if error.details:
        text += f" ({error.details})"
    return text[:500]


def _retry_after(response: httpx.Response | None) -> float | None:
    value = response.headers.get("Retry-After") if response is not None else None
    try:
        return float(value) if value else None
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff
