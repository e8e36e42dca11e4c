"""The connection options every server command shares, and opening a logged-in session from them.

``@connection_options`` adds the options to a command, so they are accepted after the command
name (``retsctl query Property RES '(X=1)' --url …``); the root callback takes them too, so they
also work before it. Options given after the command win.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from retsctl.cli.errors import CliError
from retsctl.cli.option_groups import keyword, option_group
from retsctl.cli.output import Output, log_to_stderr

# The protocol package and retsctl.secrets are imported where a session is opened: they load
# requests, lxml and keyring, most of the CLI's start-up cost.
if TYPE_CHECKING:
    from retsctl.rets.http import ConnectionSettings
    from retsctl.rets.session import Session

PANEL = "Connection"
DEFAULT_RETS_VERSION = "RETS/1.7.2"
DEFAULT_USER_AGENT = "retsctl/0.1"
DEFAULT_TIMEOUT = 60.0


class AuthChoice(StrEnum):
    auto = "auto"
    digest = "digest"
    basic = "basic"


@dataclass(frozen=True)
class ConnectionOptions:
    """The connection options as given on the command line (None when not given)."""

    profile: str | None = None
    url: str | None = None
    username: str | None = None
    password: str | None = None
    user_agent: str | None = None
    ua_password: str | None = None
    rets_version: str | None = None
    auth: AuthChoice | None = None
    timeout: float | None = None
    insecure: bool = False
    verbose: bool = False
    record: Path | None = None

    def __repr__(self) -> str:
        return f"ConnectionOptions(url={self.url!r}, username={self.username!r})"

    def over(self, earlier: ConnectionOptions | None) -> ConnectionOptions:
        """These options, falling back to ``earlier`` (given before the command) where unset."""
        if earlier is None:
            return self
        unset = {f.name: getattr(earlier, f.name) for f in fields(self) if getattr(self, f.name) in (None, False)}
        return replace(self, **unset)

    def settings(self) -> ConnectionSettings:
        """The client settings, with passwords looked up; raises for missing or unsupported options."""
        from retsctl.rets.http import ConnectionSettings
        from retsctl.secrets import resolve_password, resolve_ua_password

        if self.profile:
            raise CliError(
                f"--profile {self.profile}: profiles are not available yet",
                hint="Pass --url and --username (and the password through RETSCTL_PASSWORD or the keyring).",
            )
        if not self.url or not self.username:
            raise CliError(
                "a login URL and user name are required (--url and --username)",
                hint="Example: --url https://rets.example.com/Login --username USER (from your MLS's RETS welcome letter).",
            )
        if self.record and not self.record.parent.is_dir():
            raise CliError(f"--record {self.record}: folder {self.record.parent} does not exist",
                           hint="Create the folder first or choose another path.")
        return ConnectionSettings(
            login_url=self.url,
            username=self.username,
            password=resolve_password(self.password, login_url=self.url, username=self.username),
            user_agent=self.user_agent or DEFAULT_USER_AGENT,
            ua_password=resolve_ua_password(self.ua_password, login_url=self.url, user_agent=self.user_agent),
            rets_version=self.rets_version or DEFAULT_RETS_VERSION,
            auth=(self.auth or AuthChoice.auto).value,  # type: ignore[arg-type]
            timeout=self.timeout or DEFAULT_TIMEOUT,
            verify_tls=not self.insecure,
        )


def _option(annotation: Any, *names: str, help: str, **extra: Any) -> Any:
    return Annotated[annotation, typer.Option(*names, help=help, rich_help_panel=PANEL, **extra)]


_OPTION_TYPES: dict[str, Any] = {
    "profile": _option(str | None, "--profile", metavar="NAME", help="A saved connection profile (not available yet)."),
    "url": _option(str | None, "--url", metavar="LOGIN_URL", help="The server's RETS Login URL."),
    "username": _option(str | None, "--username", "-u", metavar="USER", help="RETS user name."),
    "password": _option(
        str | None, "--password", metavar="PASS",
        help="RETS password (else RETSCTL_PASSWORD, the keyring, or a prompt on a terminal).",
    ),
    "user_agent": _option(str | None, "--user-agent", metavar="UA", help="User-Agent to send.",
                          show_default=DEFAULT_USER_AGENT),
    "ua_password": _option(str | None, "--ua-password", metavar="PASS", help="UA-Auth password (else RETSCTL_UA_PASSWORD, or the keyring when --user-agent is given)."),
    "rets_version": _option(
        str | None, "--rets-version", metavar="VERSION", help="RETS-Version to send.", show_default=DEFAULT_RETS_VERSION
    ),
    "auth": _option(AuthChoice | None, "--auth", help="HTTP auth scheme; auto follows the server's challenge.",
                    show_default="auto"),
    "timeout": _option(float | None, "--timeout", metavar="SECONDS", help="Per-request timeout.",
                       show_default=f"{DEFAULT_TIMEOUT:g}"),
    "insecure": _option(bool, "--insecure", help="Skip TLS certificate verification (only to test!)."),
    "verbose": _option(bool, "--verbose", "-v", help="Show the HTTP exchange on stderr (secrets masked)."),
    "record": _option(
        Path | None, "--record", metavar="FILE", help="Write every exchange to a HAR file (secrets masked).", dir_okay=False
    ),
}


def _gathered(connection_ctx: typer.Context, **given: Any) -> ConnectionOptions:
    """The options of this command over those given before it, which the root context keeps."""
    options = ConnectionOptions(**given)
    root = connection_ctx.find_root()
    if root is connection_ctx:
        root.obj = options
        return options
    return options.over(root.obj if isinstance(root.obj, ConnectionOptions) else None)


connection_options = option_group(
    "conn",
    [
        *(keyword(name, annotation, getattr(ConnectionOptions, name)) for name, annotation in _OPTION_TYPES.items()),
        keyword("connection_ctx", typer.Context),
    ],
    _gathered,
)
"""Give a command the shared connection options; it receives them as ``conn: ConnectionOptions``."""


@contextmanager
def open_session(conn: ConnectionOptions, out: Output) -> Iterator[Session]:
    """A logged-in session (logged out on exit), with ``--verbose`` and ``--record`` wired in."""
    import urllib3

    from retsctl.rets.capture import WireRecorder
    from retsctl.rets.session import Session

    settings = conn.settings()
    if conn.insecure:
        urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
        out.warn("TLS certificate verification is OFF (--insecure): anyone on the path can read the password.")
    recorder = WireRecorder(conn.record, secrets=settings.secrets()) if conn.record else None
    try:
        with log_to_stderr(verbose=conn.verbose), Session(settings, recorder=recorder) as session:
            session.login()
            yield session
    finally:
        if conn.record:
            out.note(f"Capture written to {conn.record} (secrets masked).")
