"""``retsctl query``: preview a DMQL2 search, streaming every page of records to stdout."""

from __future__ import annotations

from typing import Annotated

import typer

from retsctl.cli.connection import ConnectionOptions, connection_options, open_session
from retsctl.cli.errors import error_boundary
from retsctl.cli.output import Format, Output

# retsctl.rets is imported in the command: it loads requests and lxml, the CLI's biggest start-up cost.


@connection_options
def query(
    conn: ConnectionOptions,
    resource: Annotated[str, typer.Argument(metavar="RESOURCE", help="A ResourceID, e.g. Property.")],
    class_name: Annotated[str, typer.Argument(metavar="CLASS", help="A ClassName, e.g. RES.")],
    query_text: Annotated[str, typer.Argument(metavar="DMQL", help="A DMQL2 query, e.g. '(ListPrice=300000+)'.")],
    select: Annotated[
        str | None, typer.Option("--select", metavar="F,…", help="Only these fields (SystemNames, comma-separated).")
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="Stop after N records (default: all pages).")] = None,
    offset: Annotated[int | None, typer.Option("--offset", min=1, help="Start at the Nth record (1-based).")] = None,
    count_only: Annotated[bool, typer.Option("--count", help="Only the server's COUNT of matching records.")] = False,
    output_format: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.table,
    json_output: Annotated[bool, typer.Option("--json", help="Same as --format json.")] = False,
    compact: Annotated[
        bool, typer.Option("--compact", help="Lookup codes as stored (COMPACT) instead of their long values.")
    ] = False,
) -> None:
    """Run a DMQL2 search and print the records (all pages unless --limit).

    The query is checked locally first. jsonl and csv stream one record per line, keyed by
    SystemName, values exactly as the server sent them.

    Example: retsctl query Property RES '(ListingStatus=|A,P),(ListPrice=300000+)' --url URL --username USER --format jsonl
    """
    from retsctl.rets import dmql

    out = Output(Format.json if json_output else output_format)
    with error_boundary(out):
        dmql.parse(query_text)
        with open_session(conn, out) as session:
            if count_only:
                found = session.count(resource, class_name, query_text)
                if out.json_mode:
                    out.document({"count": found})
                else:
                    out.line(str(found))
                return
            fields = [name.strip() for name in select.split(",") if name.strip()] if select else None
            result = session.search(
                resource, class_name, query_text, select=fields, limit=limit, offset=offset,
                format="COMPACT" if compact else "COMPACT-DECODED",
            )
            if out.json_mode:
                written = out.json_lines(result.json_lines(), label="records")
            else:
                written = out.rows(result, table_columns=fields, label="records")
        out.note(f"{written} record(s) in {result.pages} page(s); the server's COUNT was {result.count}")
