"""``retsctl login`` and ``retsctl logout``: prove a set of credentials works, or end a session."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from retsctl.cli.connection import ConnectionOptions, connection_options, open_session
from retsctl.cli.errors import error_boundary
from retsctl.cli.output import JsonFlag, Output

# Only for annotations: the protocol package (requests, lxml) is the CLI's biggest start-up cost.
if TYPE_CHECKING:
    from retsctl.rets.session import Session


def login_summary(session: Session) -> dict[str, Any]:
    """The contract's login JSON: server, capabilities (absolute URLs) and metadata version."""
    response = session.login_response
    assert response is not None
    return {
        "ok": True,
        "rets_version": session.server_rets_version,
        "server": session.server_product,
        "capabilities": response.capabilities,
        "member": response.member,
        "broker": response.broker,
        "metadata_version": response.metadata_version,
        "metadata_timestamp": response.metadata_timestamp,
        "elapsed_ms": session.login_elapsed_ms,
    }


@connection_options
def login(conn: ConnectionOptions, json_output: JsonFlag = False) -> None:
    """Log in and show what the server offers (capability URLs, metadata version), then log out.

    Example: retsctl login --url https://rets.example.com/Login --username USER --json
    """
    out = Output.for_json_flag(json_output)
    with error_boundary(out), open_session(conn, out) as session:
        out.document(login_summary(session))


@connection_options
def logout(conn: ConnectionOptions, json_output: JsonFlag = False) -> None:
    """Log in and send the Logout transaction, showing what the server says (connect time, billing).

    Example: retsctl logout --url https://rets.example.com/Login --username USER
    """
    out = Output.for_json_flag(json_output)
    with error_boundary(out), open_session(conn, out) as session:
        said = session.logout()
        out.document({"ok": True, **said})
