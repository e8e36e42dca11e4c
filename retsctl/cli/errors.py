"""One table from failure to exit code, and the one place failures are reported.

0 success · 1 a bug (with a log path) · 2 bad usage or input · 3 authentication/authorization ·
4 server, network or sink failure. (5, partial sync, belongs to ``sync``.)
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import typer

from retsctl import config
from retsctl.cli.output import Output

# retsctl.rets and retsctl.secrets are imported where a failure is reported: they load requests, lxml
# and keyring, most of the CLI's start-up cost.
if TYPE_CHECKING:
    from retsctl.rets.replies import RetsError

EXIT_OK = 0
EXIT_BUG = 1
EXIT_USAGE = 2
EXIT_AUTH = 3
EXIT_REMOTE = 4
EXIT_INTERRUPTED = 130

EXIT_CODES: dict[str, int] = {"input": EXIT_USAGE, "auth": EXIT_AUTH, "server": EXIT_REMOTE, "network": EXIT_REMOTE}


class CliError(Exception):
    """A failure the command line itself detects (a bad option combination, an unusable path)."""

    def __init__(self, message: str, *, hint: str = "", kind: str = "input") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.kind = kind

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "message": self.message, "hint": self.hint, "reply_code": None}


def exit_code_for(error: RetsError | CliError) -> int:
    """The exit code for an expected failure, by its kind."""
    return EXIT_CODES.get(error.kind, EXIT_REMOTE)


def redacted(error: dict[str, Any]) -> dict[str, Any]:
    """The error shape with every known secret masked in its message and hint."""
    from retsctl.secrets import redactor

    return error | {key: redactor(error[key] or "") for key in ("message", "hint")}


@contextmanager
def error_boundary(out: Output) -> Iterator[None]:
    """Report any failure inside as the contract says and exit with its code."""
    try:
        yield
    except (typer.Exit, typer.Abort, typer.exceptions.TyperException):
        raise
    except CliError as error:
        _report_expected(out, error)
    except BrokenPipeError:
        # The reader (e.g. `head`) went away; stop quietly like other Unix tools.
        _silence_stdout()
        raise typer.Exit(EXIT_OK) from None
    except KeyboardInterrupt:
        out.note("Interrupted.")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except Exception as error:
        from retsctl.rets.replies import RetsError

        if isinstance(error, RetsError):
            _report_expected(out, error)
        log_path = write_bug_report(error)
        out.error(
            redacted(
                {
                    "kind": "bug",
                    "message": f"unexpected error, a bug in retsctl: {type(error).__name__}: {error}",
                    "hint": f"Please report it with the details in {log_path}",
                    "reply_code": None,
                }
            )
        )
        raise typer.Exit(EXIT_BUG) from None


def _report_expected(out: Output, error: RetsError | CliError) -> NoReturn:
    """Report a failure the contract foresees (a DMQL error with its caret line) and exit with its code."""
    from retsctl.rets.dmql import DmqlError
    from retsctl.secrets import redactor

    detail = redactor(error.pointer()) if isinstance(error, DmqlError) else None
    out.error(redacted(error.to_dict()), detail=detail)
    raise typer.Exit(exit_code_for(error)) from None


def write_bug_report(error: BaseException) -> Path:
    """Write the traceback, secrets masked, under ``$RETSCTL_HOME/logs`` and return its path."""
    from retsctl.secrets import redactor

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    path = config.logs_dir() / f"error-{stamp}-{os.getpid()}.log"
    path.write_text(redactor("".join(traceback.format_exception(error))), encoding="utf-8")
    return path


def _silence_stdout() -> None:
    # Python's final flush of stdout would fail again on the closed pipe.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
