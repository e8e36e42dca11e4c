"""Committing a sync's pages: in the run's own process, or in a writer process beside it.

Committing a page (classify it against the cache; write raw records, mapped rows and outbox
entries, its rejections and the checkpoint after it, in one transaction) costs about as much CPU
as fetching and mapping it. A long pull therefore hands its pages to a writer process (a full sync
from its first page, any other run once it has committed a thousand records itself), so the two
overlap on two cores; until that process is ready, and in runs that never get that far, pages are
committed inline. Runs that fetch photos commit inline throughout: photos are fetched for the
changed records, which only the classification knows.

Pages are committed in the order they were fetched, each with its checkpoint, wherever that
happens, so a killed run resumes from its last committed page. A writer process whose run died
stops before its next page.
"""

from __future__ import annotations

import logging
import os
import pickle
import queue
import re
import subprocess
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import BinaryIO

import orjson
from sqlite_utils import Database

from retsctl.store.db import bulk_writes, database_path, open_db
from retsctl.store.records import Feed, PageOutcome, RecordStore, StagedRecord
from retsctl.store.runs import Checkpoint, Rejection, RunLog

PROCESS_AFTER = 1000  # records a run commits itself before it starts a writer process
QUEUED_PAGES = 4  # pages read ahead by the writer process at most (with the pipe's, what bounds memory)
GROUP_PAGES = QUEUED_PAGES + 1  # pages one transaction of the writer process holds at most
IN_FLIGHT_PAGES = QUEUED_PAGES + 2  # sent and not answered yet: queued, being committed, in the pipe
PIPE_BYTES = 1 << 20
PIPE_BUFFER_BYTES = 1 << 16
READY = "ready"

log = logging.getLogger("retsctl.sync.writer")

OnChanged = Callable[[list[StagedRecord]], int]


@dataclass
class PageWrite:
    """One transaction: a batch of fetched records, the rejections since the previous one, and
    the checkpoint that holds once they are committed."""

    records: list[StagedRecord]
    rejections: list[Rejection]
    checkpoint: Checkpoint
    now: str


@dataclass
class _Failure:
    """What went wrong in the writer process, as text (any exception can be reported)."""

    summary: str
    details: str


class WriterProcessError(RuntimeError):
    """The writer process failed or died; pages committed before that stay committed."""


class PageCommitter:
    """Commits pages into one database: the work either kind of writer does."""

    def __init__(self, db: Database, feed: Feed) -> None:
        self.db = db
        self.feed = feed
        self.store = RecordStore(db, feed)
        self.runs = RunLog(db)

    def commit(self, pages: list[PageWrite], *, on_changed: OnChanged | None = None,
               write: bool = True) -> list[PageOutcome]:
        """Write ``pages`` in one transaction that ends with the last one's checkpoint.

        Each page is classified after the ones before it are written (a key repeated across them
        counts as a duplicate); ``on_changed`` (photos) sees a page's changed records before they
        are written. Without ``write``, pages are only classified.
        """
        with self.db.conn:
            outcomes = [self._page(page, on_changed, write) for page in pages]
            if write:
                self.runs.save_checkpoint(self.feed, pages[-1].checkpoint, now=pages[-1].now)
        return outcomes

    def _page(self, page: PageWrite, on_changed: OnChanged | None, write: bool) -> PageOutcome:
        run_id = page.checkpoint.run_id
        changed, outcome = self.store.classify(page.records, run_id=run_id)
        if on_changed is not None:
            outcome.photos = on_changed(changed)
        if write:
            self.store.write(changed, run_id=run_id, now=page.now)
            if page.rejections:
                self.runs.reject(run_id, self.feed, page.rejections)
        return outcome


class PageWriter:
    """Commits a run's pages in order and hands back their outcomes (see the module docstring).

    ``process_after``: records committed inline before a writer process takes over (None: never;
    never either with ``on_changed``, without writing, or for a database that is not a file).
    """

    def __init__(self, db: Database, feed: Feed, *, process_after: int | None = PROCESS_AFTER, write: bool = True,
                 on_changed: OnChanged | None = None) -> None:
        self._committer = PageCommitter(db, feed)
        self._feed = feed
        self._write = write
        self._on_changed = on_changed
        usable = process_after is not None and write and on_changed is None and os.name == "posix"  # fds handed down
        self._path = database_path(db) if usable else None
        self._process_after = process_after or 0
        self._inline_records = 0
        self._process: _WriterProcess | None = None
        self._process_id: int | None = None
        self._outcomes: list[PageOutcome] = []

    def process_ready(self) -> bool:
        """Whether a writer process has taken over the commits (one that died starting is given up)."""
        return self._process is not None and self._process_taking_over()

    @property
    def process_id(self) -> int | None:
        """The PID of the writer process, once one was started (for logs and tests)."""
        return self._process_id

    def submit(self, page: PageWrite) -> None:
        if self.process_ready():
            assert self._process is not None
            self._process.send(page)
            return
        self._outcomes += self._committer.commit([page], on_changed=self._on_changed, write=self._write)
        self._inline_records += len(page.records)
        if self._inline_records >= self._process_after:
            self.start_process()

    def start_process(self) -> None:
        """Start the writer process now (where one may take over): a run that knows it is long
        has it ready by its first page."""
        if self._path is None or self._process is not None:
            return
        try:
            self._process = _WriterProcess(self._path, self._feed)
        except OSError as error:  # no process to be had (limits, memory): the run commits its pages itself
            log.warning("no writer process (%s); the run commits its pages itself", error)
            self._path = None
            return
        self._process_id = self._process.pid
        log.info("a writer process (pid %s) takes over the commits once it is ready", self._process_id)

    def _process_taking_over(self) -> bool:
        assert self._process is not None
        try:
            return self._process.ready()
        except WriterProcessError as error:  # it never got a page: nothing is lost by going on inline
            log.warning("%s; the run commits its pages itself", error)
            self._process.close()
            self._process, self._path = None, None
            return False

    def outcomes(self) -> list[PageOutcome]:
        """Outcomes of the pages committed since the last call (raises the writer process's failure)."""
        if self._process is not None:
            self._outcomes += self._process.outcomes()
        done, self._outcomes = self._outcomes, []
        return done

    def finish(self) -> list[PageOutcome]:
        """Wait until every submitted page is committed, stop the writer process, return the rest."""
        process, self._process = self._process, None
        if process is not None:
            self._outcomes += process.close()
        return self.outcomes()


class _WriterProcess:
    """The run's side of a writer process: a fresh interpreter (SQLite connections must not cross
    a ``fork``, and ``multiprocessing``'s spawn would import the caller's main script again) that
    imports only what committing needs, fed pages over one pipe and answering over another.

    At most ``IN_FLIGHT_PAGES`` pages are sent and not yet answered: that bounds memory, and the
    answers can never fill their pipe while the run waits to send (which would deadlock both).
    """

    def __init__(self, path: Path, feed: Feed) -> None:
        pages_read, pages_write = os.pipe()
        results_read, results_write = os.pipe()
        try:
            _widen(pages_write)
            self._process = subprocess.Popen(
                [sys.executable, "-c", _ENTRY, orjson.dumps(sys.path).decode(), str(pages_read), str(results_write)],
                pass_fds=(pages_read, results_write), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                env=_child_environment(), process_group=0,  # Ctrl-C reaches the run, which decides
            )
        except BaseException:
            for fd in (pages_write, results_read):
                os.close(fd)
            raise
        finally:
            os.close(pages_read)
            os.close(results_write)
        # Pages are pickled straight into the pipe (no page-sized buffer on either side).
        self._pages = open(pages_write, "wb", buffering=PIPE_BUFFER_BYTES)  # noqa: SIM115 (closed by close())
        self._results = Connection(results_read, writable=False)
        self._resource = feed.resource
        self._write((str(path), feed))
        self._ready = False
        self._failure: WriterProcessError | None = None
        self._sent = 0
        self._done = 0
        self._received: list[PageOutcome] = []

    @property
    def pid(self) -> int:
        return self._process.pid

    def ready(self) -> bool:
        """Whether the process is ready for pages (raises if it died before it was)."""
        if not self._ready:
            self._collect()
        return self._ready

    def send(self, page: PageWrite) -> None:
        while self._sent - self._done >= IN_FLIGHT_PAGES:
            self._receive()
        try:
            records = [record.fields(self._resource) for record in page.records]
            self._write((records, page.rejections, page.checkpoint, page.now))
        except OSError:  # the process is gone: what it said last explains why
            self._collect()
            raise self._died() from None
        self._sent += 1

    def _write(self, message: object) -> None:
        pickle.dump(message, self._pages, protocol=pickle.HIGHEST_PROTOCOL)
        self._pages.flush()

    def outcomes(self) -> list[PageOutcome]:
        self._collect()
        received, self._received = self._received, []
        return received

    def close(self) -> list[PageOutcome]:
        """Commit what was sent, then stop (a process that got no page yet is simply stopped).

        Answers are read until the process is gone: a page written just before an interruption
        (not counted as sent) may have been committed too."""
        with suppress(OSError):  # a process that is gone cannot read the end of the pipe
            self._pages.close()
        try:
            if not self._sent:
                self._process.kill()
            with suppress(EOFError):
                while True:
                    self._handle(self._results.recv())
            if self._done < self._sent:
                raise self._died()
        finally:
            self._process.wait()
            self._results.close()
        received, self._received = self._received, []
        return received

    def _collect(self) -> None:
        """Read what the process has reported so far (raises its failure)."""
        while self._results.poll():
            self._receive()

    def _receive(self) -> None:
        if self._failure is not None:
            raise self._failure
        try:
            message = self._results.recv()
        except EOFError:
            raise self._died() from None
        self._handle(message)

    def _handle(self, message: object) -> None:
        if message == READY:
            self._ready = True
        elif isinstance(message, _Failure):
            self._failure = WriterProcessError(f"the writer process failed: {message.summary}\n{message.details}")
            raise self._failure
        else:
            assert isinstance(message, list)
            self._received += message
            self._done += len(message)

    def _died(self) -> WriterProcessError:
        if self._failure is None:
            self._failure = WriterProcessError(
                f"the writer process stopped unexpectedly (exit code {self._process.wait()}); "
                "the run resumes from its last committed page")
        return self._failure


# The child gets the run's import path (so it imports the same retsctl), and marks the data-frame
# modules absent for good before sqlite-utils looks for them (it imports no psycopg).
_ENTRY = ("import json, sys; sys.path[:] = json.loads(sys.argv[1]); "
          "from retsctl import DATA_FRAME_MODULES; sys.modules.update(dict.fromkeys(DATA_FRAME_MODULES)); "
          "from retsctl.sync.writer import serve; serve(int(sys.argv[2]), int(sys.argv[3]))")
_SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|KEY|DSN", re.IGNORECASE)


def _widen(fd: int) -> None:
    """A 1 MiB pipe where Linux allows it: about a page of records in flight besides the ones queued."""
    with suppress(ImportError, AttributeError, OSError):
        import fcntl

        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)


def _child_environment() -> dict[str, str]:
    """This environment without anything that looks like a secret (the writer needs none)."""
    return {name: value for name, value in os.environ.items() if not _SECRET_NAME.search(name)}


def serve(pages_fd: int, results_fd: int) -> None:
    """The writer process: commit pages in order until the run closes its pipe, or is gone."""
    pages = open(pages_fd, "rb", buffering=PIPE_BUFFER_BYTES)  # noqa: SIM115 (lives as long as the process)
    results = Connection(results_fd, readable=False)
    run_process = os.getppid()
    path, feed = pickle.load(pages)
    db = open_db(Path(path))
    inbox: Inbox = queue.Queue(QUEUED_PAGES)
    threading.Thread(target=_read_pages, args=(pages, inbox), daemon=True).start()
    with bulk_writes(db), suppress(BrokenPipeError):  # a run that is gone reads no answer
        committer = PageCommitter(db, feed)
        results.send(READY)
        try:
            for group in _pages_in_groups(inbox):
                if os.getppid() != run_process:
                    break
                results.send(committer.commit(group))
        except Exception as error:  # reported to the run, which fails with it
            details = "".join(traceback.format_exception(error))
            results.send(_Failure(f"{type(error).__name__}: {error}", details))


# What the reader thread hands the committer: a page, None at the end of the pages, or what stopped it.
Inbox = queue.Queue[PageWrite | BaseException | None]


def _pages_in_groups(inbox: Inbox) -> Iterator[list[PageWrite]]:
    """Pages as they arrive, those already waiting taken together: a writer that fell behind
    catches up in fewer, larger transactions. Raises what stopped the reader."""
    after: object = _MORE
    while after is _MORE:
        group, after = _take_group(inbox)
        if group:
            yield group
    if isinstance(after, BaseException):
        raise after


_MORE = object()  # after a group: nothing else was waiting yet, pages go on


def _take_group(inbox: Inbox) -> tuple[list[PageWrite], object]:
    """The next pages (the first waited for, the rest already waiting, GROUP_PAGES at most) and
    what comes after them: :data:`_MORE`, None (the end) or what stopped the reader."""
    group: list[PageWrite] = []
    item = inbox.get()
    while isinstance(item, PageWrite):
        group.append(item)
        if len(group) == GROUP_PAGES:
            return group, _MORE
        try:
            item = inbox.get_nowait()
        except queue.Empty:
            return group, _MORE
    return group, item


def _read_pages(pages: BinaryIO, inbox: Inbox) -> None:
    """Read pages off the pipe while the previous ones are committed; None at its end (or at a
    page cut short: the run died while sending it); any other failure is passed on."""
    try:
        while True:
            records, rejections, checkpoint, now = pickle.load(pages)
            inbox.put(PageWrite([StagedRecord(*fields) for fields in records], rejections, checkpoint, now))
    except (EOFError, OSError, pickle.UnpicklingError):
        inbox.put(None)
    except BaseException as error:  # handed to the committer, which reports it
        inbox.put(error)
