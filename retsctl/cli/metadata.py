"""``retsctl metadata …``: the server's resources, classes, fields, lookups and object types.

Rows keep every RETS attribute exactly as the server sent it. They are cached in the local
database per server and metadata version, so a second look costs only a login; ``--refresh``
asks the server again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from retsctl.cli.connection import ConnectionOptions, connection_options, open_session
from retsctl.cli.errors import error_boundary
from retsctl.cli.output import JsonFlag, Output

# Only for annotations: the protocol package (requests, lxml) is the CLI's biggest start-up cost.
if TYPE_CHECKING:
    from retsctl.rets.session import Session

app = typer.Typer(
    help="Explore the server's metadata (cached locally per metadata version).\n\n"
    "Example: retsctl metadata fields Property RES --url URL --username USER --json",
    no_args_is_help=True,
)

# GetMetadata's answers for a resource, class, lookup or type the server no longer has.
GONE_CODES = frozenset({20500, 20501, 20502, 20503})
RefreshFlag = Annotated[bool, typer.Option("--refresh", help="Ask the server again instead of using the local cache.")]
ResourceArg = Annotated[str, typer.Argument(metavar="RESOURCE", help="A ResourceID, e.g. Property.")]


def metadata_rows(session: Session, type: str, id: str, *, refresh: bool, out: Output) -> list[dict[str, str]]:
    """The rows of one metadata type, from the cache unless missing, stale or ``refresh``."""
    # Imported here: sqlite-utils (and numpy, which it loads) would slow every other command's start.
    from retsctl.store import open_db
    from retsctl.store.metadata_cache import MetadataCache, MetadataKey

    response = session.login_response
    assert response is not None
    version = response.metadata_version or response.metadata_timestamp or ""
    key = MetadataKey(session.settings.login_url, session.settings.username, version, type, id)
    cache = MetadataCache(open_db())
    rows = None if refresh else cache.get(key)
    if rows is not None:
        out.note(f"{type} {id}: from the local cache (metadata version {version or 'unknown'}; --refresh to fetch again)")
        return rows
    rows = [row for segment in session.get_metadata(type, id).segments for row in segment.rows]
    cache.put(key, rows)
    return rows


def show(conn: ConnectionOptions, json_output: bool, refresh: bool, type: str, id: str, table_columns: list[str]) -> None:
    """Fetch (or recall) one metadata listing and print it."""
    out = Output.for_json_flag(json_output)
    with error_boundary(out):
        with open_session(conn, out) as session:
            rows = metadata_rows(session, type, id, refresh=refresh, out=out)
        out.rows(rows, table_columns=table_columns)


@app.command("resources")
@connection_options
def resources(conn: ConnectionOptions, json_output: JsonFlag = False, refresh: RefreshFlag = False) -> None:
    """List the server's resources (Property, Agent, Office, …) with their key fields.

    Example: retsctl metadata resources --url URL --username USER
    """
    show(conn, json_output, refresh, "METADATA-RESOURCE", "0",
         ["ResourceID", "StandardName", "VisibleName", "KeyField", "ClassCount"])


@app.command("classes")
@connection_options
def classes(
    conn: ConnectionOptions, resource: ResourceArg, json_output: JsonFlag = False, refresh: RefreshFlag = False
) -> None:
    """List the classes of a resource (the Search transaction's Class argument).

    Example: retsctl metadata classes Property --url URL --username USER
    """
    show(conn, json_output, refresh, "METADATA-CLASS", resource,
         ["ClassName", "StandardName", "VisibleName", "Description", "ClassTimeStamp"])


@app.command("fields")
@connection_options
def fields(
    conn: ConnectionOptions,
    resource: ResourceArg,
    class_name: Annotated[str, typer.Argument(metavar="CLASS", help="A ClassName, e.g. RES.")],
    json_output: JsonFlag = False,
    refresh: RefreshFlag = False,
) -> None:
    """List the fields of a class (SystemName is what queries and --select use).

    Example: retsctl metadata fields Property RES --url URL --username USER --json
    """
    show(conn, json_output, refresh, "METADATA-TABLE", f"{resource}:{class_name}",
         ["SystemName", "StandardName", "LongName", "DataType", "Interpretation", "LookupName", "Searchable"])


@app.command("lookups")
@connection_options
def lookups(
    conn: ConnectionOptions,
    resource: ResourceArg,
    lookup: Annotated[str, typer.Argument(metavar="LOOKUP", help="A LookupName from `metadata fields`.")],
    json_output: JsonFlag = False,
    refresh: RefreshFlag = False,
) -> None:
    """List the values of one lookup (Value is the code to put in DMQL).

    Example: retsctl metadata lookups Property ListingStatus --url URL --username USER
    """
    show(conn, json_output, refresh, "METADATA-LOOKUP_TYPE", f"{resource}:{lookup}", ["Value", "LongValue", "ShortValue"])


@app.command("objects")
@connection_options
def object_types(
    conn: ConnectionOptions, resource: ResourceArg, json_output: JsonFlag = False, refresh: RefreshFlag = False
) -> None:
    """List the object (media) types of a resource, for `retsctl objects`.

    Example: retsctl metadata objects Property --url URL --username USER
    """
    show(conn, json_output, refresh, "METADATA-OBJECT", resource, ["ObjectType", "MIMEType", "VisibleName", "Description"])


@app.command("diff")
@connection_options
def diff(conn: ConnectionOptions, json_output: JsonFlag = False) -> None:
    """What changed since the last cached metadata version: fields added, removed or retyped,
    lookup values added or removed, and other attribute changes.

    Compares every listing cached for the previous version with the server's current one.

    Example: retsctl metadata diff --url URL --username USER --json
    """
    from retsctl.rets.metadata_diff import diff_rows
    from retsctl.store import open_db
    from retsctl.store.metadata_cache import MetadataCache, MetadataKey

    out = Output.for_json_flag(json_output)
    with error_boundary(out), open_session(conn, out) as session:
        response = session.login_response
        assert response is not None
        current = response.metadata_version or response.metadata_timestamp or ""
        login_url, username = session.settings.login_url, session.settings.username
        cache = MetadataCache(open_db())
        previous = cache.previous_version(login_url, username, current)
        changes = []
        for type, id in cache.listings(login_url, username, previous) if previous else []:
            old = cache.get(MetadataKey(login_url, username, previous, type, id)) or []  # type: ignore[arg-type]
            changes += diff_rows(type, id, old, _current_rows(session, type, id, out))
        if previous is None:
            out.note("No earlier metadata version is cached for this server: nothing to compare yet.")
        summary = {"from_version": previous, "to_version": current, "changes": [c.to_dict() for c in changes]}
        if out.json_mode:
            out.document(summary)
        else:
            out.note(f"metadata {previous or '(none cached)'} -> {current}: {len(changes)} change(s)")
            out.rows([{**c.to_dict(), "attributes": ", ".join(c.attributes)} for c in changes],
                     table_columns=["type", "id", "item", "change", "attributes"])


def _current_rows(session: Session, type: str, id: str, out: Output) -> list[dict[str, str]]:
    """The listing as the server has it now; none when its resource, class or lookup is gone."""
    from retsctl.rets.replies import RetsReplyError

    try:
        return metadata_rows(session, type, id, refresh=False, out=out)
    except RetsReplyError as error:
        if error.code not in GONE_CODES:
            raise
        return []
