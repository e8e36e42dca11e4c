"""``retsctl objects``: fetch listing photos and other media (or only their URLs)."""

from __future__ import annotations

import mimetypes
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from retsctl.cli.connection import ConnectionOptions, connection_options, open_session
from retsctl.cli.errors import CliError, error_boundary
from retsctl.cli.output import JsonFlag, Output

# The protocol package is imported where used: it loads requests and lxml, the CLI's biggest start-up cost.
if TYPE_CHECKING:
    from retsctl.rets.objects import RetsObject

_UNSAFE_IN_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")


@connection_options
def objects(
    conn: ConnectionOptions,
    resource: Annotated[str, typer.Argument(metavar="RESOURCE", help="A ResourceID, e.g. Property.")],
    object_type: Annotated[str, typer.Argument(metavar="TYPE", help="An ObjectType, e.g. Photo.")],
    ids: Annotated[
        list[str], typer.Argument(metavar="ID…", help="Listing keys, optionally with object numbers: 123, 123:1, 123:*.")
    ],
    location: Annotated[bool, typer.Option("--location", help="Ask for the objects' URLs instead of their bytes.")] = False,
    out_dir: Annotated[
        Path | None, typer.Option("--out", metavar="DIR", file_okay=False, help="Save the objects into this folder.")
    ] = None,
    json_output: JsonFlag = False,
) -> None:
    """Fetch objects of listings; list them, save them with --out, or get their URLs with --location.

    A listing with no such object is reported, not a failure; any other error stops the command.

    Example: retsctl objects Property Photo 3001:1 3002:* --out photos --url URL --username USER
    """
    out = Output.for_json_flag(json_output)
    with error_boundary(out):
        if out_dir is not None:
            _prepare_folder(out_dir)
        with open_session(conn, out) as session:
            fetched = session.get_objects(resource, object_type, ids, location=location)
            listed = (_describe(found, out_dir) for found in fetched)
            out.rows(listed, table_columns=["content_id", "object_id", "content_type", "size", "location", "path", "error"],
                     label="objects")


def _prepare_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise CliError(f"cannot use --out {folder}: {error.strerror}", hint="Choose a folder you can write to.") from None


def _describe(found: RetsObject, out_dir: Path | None) -> dict[str, Any]:
    """One object as a row, its bytes saved under ``out_dir``; raises an error other than "no object"."""
    from retsctl.rets.replies import NO_OBJECT

    if found.error is not None and found.error.reply_code != NO_OBJECT:
        raise found.error
    path = _save(found, out_dir) if out_dir is not None and found.error is None and found.data else None
    return {
        "content_id": found.content_id,
        "object_id": found.object_id,
        "content_type": found.content_type,
        "preferred": found.preferred,
        "description": found.description,
        "location": found.location,
        "size": len(found.data),
        "path": str(path) if path else None,
        "error": found.error.to_dict() if found.error is not None else None,
    }


def _save(found: RetsObject, folder: Path) -> Path:
    media_type = found.content_type.split(";", 1)[0].strip().lower()
    extension = mimetypes.guess_extension(media_type) or ".bin"
    name = _UNSAFE_IN_FILENAME.sub("_", f"{found.content_id}-{found.object_id}")
    path = folder / f"{name}{extension}"
    path.write_bytes(found.data)
    return path
