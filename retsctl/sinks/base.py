"""What every sink shares: the ``Sink`` protocol, its result and error, batching, and the retry loop.

A sink turns one batch into one atomic write (``send``); :func:`push_rows` plans and drives the batches:
a transient failure is retried with backoff (the batch halved first when the failure says it was
too big), a data error bisects the batch until the bad rows stand alone and are quarantined, and
when ``timeout`` seconds pass without progress the push gives up with :class:`SinkError`.
"""

from __future__ import annotations

import logging
import random
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from retsctl.properties import ALL_COLUMNS, IDENTITY_COLUMNS, PropertyRow
from retsctl.rets.replies import RetsError

log = logging.getLogger("retsctl.sinks")

RowKey = tuple[str, str, str]
DEFAULT_TIMEOUT = 45.0
CONFLICT_COLUMNS = ",".join(IDENTITY_COLUMNS)


@dataclass
class PushResult:
    """What a push achieved: rows the sink holds now, rows it refused (with why), rows it wrote.

    ``written`` counts rows inserted or really changed; a confirmed row that was already
    identical in the sink is not written.
    """

    confirmed: list[RowKey] = field(default_factory=list)
    quarantined: list[tuple[RowKey, str]] = field(default_factory=list)
    written: int = 0


class SinkError(RetsError):
    """A push failed for good (retry budget spent, or a failure no retry can fix); exit code 4.

    ``result`` holds what was confirmed and quarantined before the failure.
    """

    kind = "sink"

    def __init__(self, message: str, *, hint: str = "", result: PushResult | None = None) -> None:
        super().__init__(message, hint=hint)
        self.result = result or PushResult()


class SinkUsageError(SinkError):
    """The sink cannot be set up as asked (no DSN, no URL or key, an unknown sink); exit code 2."""

    kind = "input"


class SinkAuthError(SinkError):
    """The sink refused our credentials (a wrong key or database login); exit code 3."""

    kind = "auth"


class Sink(Protocol):
    name: str

    def push(self, rows: Sequence[PropertyRow]) -> PushResult: ...

    def close(self) -> None: ...


class RejectedRows(Exception):
    """``send`` found bad data in the batch (a constraint or type error): bisect it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TransientFailure(Exception):
    """``send`` failed in a way a later attempt may not (network, overload, restart)."""

    def __init__(self, reason: str, *, shrink: bool = False, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.shrink = shrink  # the batch may be too big for the server's limits: halve it
        self.retry_after = retry_after


@dataclass(frozen=True)
class Batch:
    """Rows written in one request or transaction; every row has exactly ``columns``."""

    columns: tuple[str, ...]
    rows: list[Mapping[str, Any]]

    def keys(self) -> list[RowKey]:
        return [row_key(row) for row in self.rows]

    def halves(self) -> tuple[Batch, Batch]:
        middle = len(self.rows) // 2
        return Batch(self.columns, self.rows[:middle]), Batch(self.columns, self.rows[middle:])


@dataclass(frozen=True)
class RetryPolicy:
    """How long and how a push retries: gives up after ``timeout`` seconds without progress."""

    timeout: float = DEFAULT_TIMEOUT
    first_delay: float = 0.25
    max_delay: float = 8.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Exponential backoff with jitter, at least what the server asked for."""
        backoff = min(self.max_delay, self.first_delay * 2**attempt) * random.uniform(0.5, 1.0)
        return max(backoff, retry_after or 0.0)


DEFAULT_RETRY = RetryPolicy()

Send = Callable[[Batch, float], int]
"""Write one batch atomically within the given seconds; return how many rows were written."""


def row_key(row: Mapping[str, Any]) -> RowKey:
    return (str(row.get("team_id") or ""), str(row.get("source") or ""), str(row.get("external_id") or ""))


def plan_batches(
    rows: Iterable[Mapping[str, Any]],
    *,
    max_rows: int,
    max_bytes: int | None = None,
    size_of: Callable[[Mapping[str, Any]], int] = lambda row: 0,
) -> tuple[list[Batch], list[tuple[RowKey, str]]]:
    """Cut rows into batches of one column set each, at most ``max_rows`` rows and ``max_bytes``.

    A row missing its key, or with a column the table lacks, is refused at once; when a key
    comes twice the later row wins (one statement cannot change a row twice).
    """
    refused: list[tuple[RowKey, str]] = []
    by_key: dict[RowKey, Mapping[str, Any]] = {}
    for row in rows:
        problem = _row_problem(row)
        if problem:
            refused.append((row_key(row), problem))
        else:
            by_key[row_key(row)] = row
    groups: dict[tuple[str, ...], list[Mapping[str, Any]]] = {}
    for row in by_key.values():
        groups.setdefault(tuple(c for c in ALL_COLUMNS if c in row), []).append(row)
    batches = [batch for columns, group in groups.items() for batch in _cut(columns, group, max_rows, max_bytes, size_of)]
    return batches, refused


def _row_problem(row: Mapping[str, Any]) -> str | None:
    missing = [c for c in IDENTITY_COLUMNS if not isinstance(row.get(c), str) or not row.get(c)]
    if missing:
        return f"missing {', '.join(missing)}"
    unknown = sorted(set(row) - set(ALL_COLUMNS))
    if unknown:
        return f"unknown column(s) {', '.join(unknown)}"
    return None


def _cut(
    columns: tuple[str, ...],
    rows: list[Mapping[str, Any]],
    max_rows: int,
    max_bytes: int | None,
    size_of: Callable[[Mapping[str, Any]], int],
) -> Iterable[Batch]:
    current: list[Mapping[str, Any]] = []
    size = 0
    for row in rows:
        row_size = size_of(row)
        if current and (len(current) >= max_rows or (max_bytes is not None and size + row_size > max_bytes)):
            yield Batch(columns, current)
            current, size = [], 0
        current.append(row)
        size += row_size
    if current:
        yield Batch(columns, current)


def push_rows(
    rows: Iterable[Mapping[str, Any]],
    send: Send,
    policy: RetryPolicy,
    *,
    sink: str,
    max_rows: int,
    max_bytes: int | None = None,
    size_of: Callable[[Mapping[str, Any]], int] = lambda row: 0,
) -> PushResult:
    """Plan the batches and write them all, retrying, halving and bisecting as failures say
    (see the module doc); raises SinkError, carrying the partial result, when it gives up."""
    batches, refused = plan_batches(rows, max_rows=max_rows, max_bytes=max_bytes, size_of=size_of)
    result = PushResult(quarantined=refused)
    pending = deque(batches)
    attempt = 0
    deadline = policy.clock() + policy.timeout
    try:
        while pending:
            batch = pending.popleft()
            try:
                result.written += send(batch, max(deadline - policy.clock(), 0.0))
            except RejectedRows as rejected:
                _bisect(batch, rejected.reason, pending, result)
            except TransientFailure as failure:
                _wait_to_retry(failure, attempt, deadline, policy, sink)
                attempt += 1
                pending.extendleft(reversed(batch.halves()) if failure.shrink and len(batch.rows) > 1 else [batch])
                continue
            else:
                result.confirmed.extend(batch.keys())
            attempt = 0
            deadline = policy.clock() + policy.timeout
    except SinkError as error:
        error.result = result
        raise
    return result


def _bisect(batch: Batch, reason: str, pending: deque[Batch], result: PushResult) -> None:
    if len(batch.rows) == 1:
        log.warning("%s quarantined: %s", "/".join(row_key(batch.rows[0])), reason)
        result.quarantined.append((row_key(batch.rows[0]), reason))
    else:
        pending.extendleft(reversed(batch.halves()))


def _wait_to_retry(failure: TransientFailure, attempt: int, deadline: float, policy: RetryPolicy, sink: str) -> None:
    delay = policy.delay(attempt, failure.retry_after)
    if policy.clock() + delay >= deadline:
        raise SinkError(
            f"{sink} push gave up after {policy.timeout:g} s without progress: {failure.reason}",
            hint="The rows stay pending; push again later, or allow more time with --timeout.",
        )
    log.warning("%s push failed (%s); retrying in %.1f s", sink, failure.reason, delay)
    policy.sleep(delay)
