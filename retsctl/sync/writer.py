"""Committing a sync's pages: in the run's own process, or in a writer process beside it.

Committing a page (classify it against the cache; write raw records, mapped rows and outbox
entries, its rejections and the checkpoint after it, in one transaction) costs about as much CPU
as fetching and mapping it. A long pull therefore hands its pages to a writer process once it has
committed a thousand records itself, so the two overlap on two cores; until that process is ready,
and in runs that never get that far, pages are committed inline. Runs that fetch photos commit
inline throughout: photos are fetched for the changed records, which only the classification knows.

Pages are committed in the order they were fetched, each with its checkpoint, wherever that
happens, so a killed run resumes from its last committed page. A writer process whose run died
stops before its next page.
"""

from __future__ import annotations

import logging
import os
import pickle
import queue
import subprocess
import sys
import threading
import traceback
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

from sqlite_utils import Database

from retsctl.store.db import bulk_writes, database_path, open_db
from retsctl.store.records import Feed, PageOutcome, RecordStore, StagedRecord
from retsctl.store.runs import Checkpoint, Rejection, RunLog

PROCESS_AFTER = 1000  # records a run commits itself before it starts a writer process
QUEUED_PAGES = 4  # pages read ahead by the writer process at most (with the pipe's, what bounds memory)
PIPE_BYTES = 1 << 20
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

    def commit(self, page: PageWrite, *, on_changed: OnChanged | None = None, write: bool = True) -> PageOutcome:
        """Classify the page; ``on_changed`` (photos) sees the changed records before they are written."""
        run_id = page.checkpoint.run_id
        changed, outcome = self.store.classify(page.records, run_id=run_id)
        if on_changed is not None:
            outcome.photos = on_changed(changed)
        if not write:
            return outcome
        with self.db.conn:
            self.store.write(changed, run_id=run_id, now=page.now)
            if page.rejections:
                self.runs.reject(run_id, self.feed, page.rejections)
            self.runs.save_checkpoint(self.feed, page.checkpoint, now=page.now)
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

    @property
    def uses_process(self) -> bool:
        return self._process is not None and self._process.ready()

    @property
    def process_id(self) -> int | None:
        """The PID of the writer process, once one was started (for logs and tests)."""
        return self._process_id

    def submit(self, page: PageWrite) -> None:
        if self.uses_process:
            assert self._process is not None
            self._process.send(page)
            return
        self._outcomes.append(self._committer.commit(page, on_changed=self._on_changed, write=self._write))
        self._inline_records += len(page.records)
        if self._path is not None and self._process is None and self._inline_records >= self._process_after:
            self._process = _WriterProcess(self._path, self._feed)
            self._process_id = self._process.pid
            log.info("a writer process (pid %s) takes over the commits once it is ready", self._process_id)

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
    """The run's side of a writer process: ``python -c`` importing only this module (a fresh
    interpreter: SQLite connections must not cross a ``fork``, and ``multiprocessing``'s spawn
    would import the caller's main script again), fed pages over a pipe, answering over another."""

    def __init__(self, path: Path, feed: Feed) -> None:
        pages_read, pages_write = os.pipe()
        results_read, results_write = os.pipe()
        _widen(pages_write)
        self._process = subprocess.Popen(
            [sys.executable, "-c", _ENTRY, str(pages_read), str(results_write)],
            pass_fds=(pages_read, results_write), stdin=subprocess.DEVNULL, env=_child_environment(),
        )
        os.close(pages_read)
        os.close(results_write)
        self._pages = Connection(pages_write, readable=False)
        self._results = Connection(results_read, writable=False)
        self._pages.send((str(path), feed))
        self._ready = False
        self._sent = 0
        self._done = 0
        self._received: list[PageOutcome] = []

    @property
    def pid(self) -> int:
        return self._process.pid

    def ready(self) -> bool:
        if not self._ready:
            self._collect()
        return self._ready

    def send(self, page: PageWrite) -> None:
        # Plain pickle: multiprocessing's own pickler consults its reducer table for every object.
        data = pickle.dumps(page, protocol=pickle.HIGHEST_PROTOCOL)
        try:
            self._pages.send_bytes(data)
        except OSError:  # the process is gone: what it said last explains why
            self._collect()
            raise self._died() from None
        self._sent += 1

    def outcomes(self) -> list[PageOutcome]:
        self._collect()
        received, self._received = self._received, []
        return received

    def close(self) -> list[PageOutcome]:
        """Commit what was sent, then stop (a process that got no page yet is simply stopped)."""
        self._pages.close()
        if not self._sent:
            self._process.kill()
        while self._done < self._sent:
            self._receive()
        self._process.wait()
        self._results.close()
        received, self._received = self._received, []
        return received

    def _collect(self) -> None:
        """Read what the process has reported so far (raises its failure)."""
        while self._results.poll():
            self._receive()

    def _receive(self) -> None:
        try:
            message = self._results.recv()
        except EOFError:
            raise self._died() from None
        if message == READY:
            self._ready = True
        elif isinstance(message, _Failure):
            raise WriterProcessError(f"the writer process failed: {message.summary}\n{message.details}")
        else:
            assert isinstance(message, PageOutcome)
            self._received.append(message)
            self._done += 1

    def _died(self) -> WriterProcessError:
        return WriterProcessError(f"the writer process stopped unexpectedly (exit code {self._process.wait()}); "
                                  "the run resumes from its last committed page")


_ENTRY = ("import sys; from retsctl.process import skip_unused_optional_imports; skip_unused_optional_imports(); "
          "from retsctl.sync.writer import serve; serve(int(sys.argv[1]), int(sys.argv[2]))")


def _widen(fd: int) -> None:
    """A 1 MiB pipe where Linux allows it: about a page of records in flight besides the ones queued."""
    with suppress(ImportError, AttributeError, OSError):
        import fcntl

        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)


def _child_environment() -> dict[str, str]:
    """This environment, with the directory retsctl is imported from first on the path."""
    here = str(Path(__file__).resolve().parents[2])
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": here if not path else os.pathsep.join((here, path))}


def serve(pages_fd: int, results_fd: int) -> None:
    """The writer process: commit pages in order until the run closes its pipe, or is gone."""
    pages = Connection(pages_fd, writable=False)
    results = Connection(results_fd, readable=False)
    run_process = os.getppid()
    path, feed = pages.recv()
    db = open_db(Path(path))
    inbox: queue.Queue[bytes | None] = queue.Queue(QUEUED_PAGES)
    threading.Thread(target=_read_pages, args=(pages, inbox), daemon=True).start()
    with bulk_writes(db):
        committer = PageCommitter(db, feed)
        results.send(READY)
        while (data := inbox.get()) is not None and os.getppid() == run_process:
            try:
                results.send(committer.commit(pickle.loads(data)))
            except Exception as error:  # reported to the run, which fails with it
                results.send(_Failure(f"{type(error).__name__}: {error}", traceback.format_exc()))
                break


def _read_pages(pages: Connection, inbox: queue.Queue[bytes | None]) -> None:
    """Read pages off the pipe while the previous ones are committed; None at its end."""
    try:
        while True:
            inbox.put(pages.recv_bytes())
    except (EOFError, OSError):
        inbox.put(None)
