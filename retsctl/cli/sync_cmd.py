"""``retsctl sync``, ``push``, ``runs`` and ``properties``: the pipeline from the server to the sinks."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from retsctl import DATA_FRAME_MODULES
from retsctl.cli.connection import ConnectionOptions, connection_options, open_session
from retsctl.cli.db import DsnOption, resolve_dsn
from retsctl.cli.errors import CliError, error_boundary
from retsctl.cli.output import Format, JsonFlag, Output

# The pipeline (sync engine, store, mapping, sinks) is imported in the commands: it loads sqlite-utils,
# tomlkit and psycopg, which would slow every command's start-up.
if TYPE_CHECKING:
    from retsctl.mapping import Mapping
    from retsctl.sinks import Sink
    from retsctl.sync.engine import SyncProgress

EXIT_PARTIAL = 5
# retsctl.sinks.DEFAULT_TIMEOUT (a test keeps them equal), needed here to build the --timeout option.
SINK_TIMEOUT = 45.0
DEFAULT_MAPPING = Path("mappings/default.toml")
SUPABASE_URL_ENV = "SUPABASE_URL"
SUPABASE_KEY_ENV = "SUPABASE_SERVICE_ROLE_KEY"


class SinkChoice(StrEnum):
    supabase = "supabase"
    postgres = "postgres"


class Strategy(StrEnum):
    timestamp = "timestamp"
    keys_first = "keys-first"


SinkOption = Annotated[SinkChoice | None, typer.Option("--sink", help="Where rows go [default: supabase when "
                                                       f"{SUPABASE_URL_ENV} is set, postgres when a DSN is given].")]


def _parse_since(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise CliError(f"--since {text!r} is not an ISO date or time",
                       hint="Example: --since 2024-05-01T00:00:00Z (a time without offset is taken as UTC).") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _load_mapping(path: Path | None) -> Mapping:
    from retsctl.mapping import Mapping

    chosen = path or DEFAULT_MAPPING
    if not chosen.exists():
        raise CliError(f"mapping file {chosen} not found",
                       hint="Pass --mapping FILE, or create one with `retsctl mapping init --resource R --class C --out FILE`.")
    return Mapping.load(chosen)


def _supabase_key(url: str) -> str | None:
    from retsctl.secrets import read_keyring

    return os.environ.get(SUPABASE_KEY_ENV) or read_keyring(f"supabase:{url}")


def choose_sink(choice: SinkChoice | None, dsn: str | None, timeout: float) -> Sink | None:
    """The sink asked for, or the one the environment configures; None when there is none."""
    from retsctl.secrets import redactor
    from retsctl.sinks import open_sink

    url = os.environ.get(SUPABASE_URL_ENV)
    if choice is None:
        choice = SinkChoice.supabase if url else SinkChoice.postgres if dsn else None
    if choice is None:
        return None
    if choice is SinkChoice.postgres:
        return open_sink("postgres", dsn=resolve_dsn(dsn), timeout=timeout)
    key = _supabase_key(url or "")
    redactor.add(key)
    return open_sink("supabase", url=url, key=key, timeout=timeout)


@contextmanager
def _progress(out: Output) -> Iterator[Callable[[SyncProgress], None]]:
    """Records, pages and rate on stderr while a sync pulls (only on a terminal)."""
    shown = out.stderr.is_terminal and not out.json_mode
    columns = [SpinnerColumn(), TextColumn("{task.description}"), TextColumn("{task.completed} records"),
               TextColumn("{task.fields[pages]} pages"), TextColumn("{task.fields[rate]}/s"), TimeElapsedColumn()]
    with Progress(*columns, console=out.stderr, transient=True, disable=not shown) as progress:
        task = progress.add_task("syncing", total=None, pages=0, rate="-")

        def update(event: SyncProgress) -> None:
            elapsed = progress.tasks[0].elapsed or 0.0
            rate = f"{event.fetched / elapsed:,.0f}" if elapsed > 0 else "-"
            progress.update(task, completed=event.fetched, total=event.total, pages=event.pages, rate=rate)

        yield update


@connection_options
def sync(
    conn: ConnectionOptions,
    mapping_file: Annotated[Path | None, typer.Option("--mapping", metavar="FILE", dir_okay=False,
                                                      help=f"The feed's mapping [default: {DEFAULT_MAPPING}].")] = None,
    full: Annotated[bool, typer.Option("--full", help="Pull the whole feed, not only what changed.")] = False,
    since: Annotated[str | None, typer.Option("--since", metavar="ISO", help="Pull what changed since this time.")] = None,
    reconcile: Annotated[bool, typer.Option("--reconcile", help="Also mark listings the server no longer has as deleted.")] = False,
    strategy: Annotated[Strategy, typer.Option("--strategy", help="timestamp: modified since the watermark; "
                                               "keys-first: diff keys and times, then fetch what differs.")] = Strategy.timestamp,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Fetch and map, write nothing.")] = False,
    photos: Annotated[bool, typer.Option("--photos/--no-photos", help="Fetch photo URLs (GetObject Location=1).")] = True,
    no_push: Annotated[bool, typer.Option("--no-push", help="Only cache locally; `retsctl push` later.")] = False,
    sink_choice: SinkOption = None,
    dsn: DsnOption = None,
    team_id: Annotated[str, typer.Option("--team-id", metavar="T", help="The platform team the rows belong to.")] = "",
    overlap: Annotated[float, typer.Option("--overlap", metavar="MINUTES", help="Re-read this much before the watermark.")] = 5.0,
    page_size: Annotated[int | None, typer.Option("--page-size", min=1, help="Records per request [default: the server's cap].")] = None,
    json_output: JsonFlag = False,
) -> None:
    """Pull new and changed listings, map them, cache them in SQLite, then push to the sink.

    The first run (or --full) pulls everything; later runs what changed since the last successful
    one. A killed run resumes from its checkpoint. Exit 5 when the cache succeeded but the push failed.

    Example: retsctl sync --mapping mappings/mymls.toml --url URL --username USER --team-id T --reconcile
    """
    import_sqlite_utils_without_data_frames()
    from retsctl.store.db import open_db
    from retsctl.store.outbox import Outbox
    from retsctl.store.records import Feed
    from retsctl.sync.engine import SyncOptions, SyncRun

    out = Output.for_json_flag(json_output)
    with error_boundary(out):
        mapping = _load_mapping(mapping_file)
        options = SyncOptions(
            full=full, since=_parse_since(since), reconcile=reconcile, strategy=str(strategy.value),
            dry_run=dry_run, photos=photos, push=not no_push, overlap=timedelta(minutes=overlap),
            page_size=page_size, mapping_path=str(mapping_file or DEFAULT_MAPPING),
        )
        sink = None if (no_push or dry_run) else choose_sink(sink_choice, dsn, conn.timeout or SINK_TIMEOUT)
        if sink is not None and not team_id:
            raise CliError("--team-id is required to push (the platform team the rows belong to)",
                           hint="Pass --team-id TEAM, or --no-push to only cache locally.")
        db = open_db()
        with open_session(conn, out) as session, _progress(out) as progress:
            feed = Feed(source=session.settings.login_url, resource=mapping.resource, class_name=mapping.class_name,
                        team_id=team_id)
            summary = SyncRun(session, mapping, db, feed, options, sink=sink, progress=progress).run()
        if sink is None and not (no_push or dry_run):
            out.note(f"No sink configured: {Outbox(db).pending_count()} row(s) wait in the outbox "
                     "(set SUPABASE_URL or pass --dsn, then `retsctl push`).")
        _report(out, summary.to_json())
        if summary.status == "partial":
            raise typer.Exit(EXIT_PARTIAL)


def _report(out: Output, summary: dict[str, Any]) -> None:
    if out.json_mode:
        out.document(summary)
        return
    brief = {key: summary[key] for key in ("run_id", "status", "fetched", "inserted", "updated", "unchanged",
                                           "deleted", "rejected", "photos", "pushed", "watermark", "elapsed_s")}
    out.document(brief)
    for warning in summary["quality"].get("warnings", []):
        out.warn(warning)
    for rejection in summary["rejections"][:5]:
        out.note(f"rejected {rejection['key']}: {rejection['column']}: {rejection['reason']} ({rejection['value']!r})")


def push(
    sink_choice: SinkOption = None,
    dsn: DsnOption = None,
    timeout: Annotated[float, typer.Option("--timeout", metavar="SECONDS",
                                           help="Give up after this long without progress.")] = SINK_TIMEOUT,
    json_output: JsonFlag = False,
) -> None:
    """Push the rows the sink has not confirmed yet (after a failed or --no-push sync).

    Example: retsctl push --sink postgres --dsn postgresql://postgres@localhost/postgres
    """
    from retsctl.store.db import open_db
    from retsctl.store.outbox import Outbox
    from retsctl.sync.engine import push_outbox

    out = Output.for_json_flag(json_output)
    with error_boundary(out):
        sink = choose_sink(sink_choice, dsn, timeout)
        if sink is None:
            raise CliError("no sink configured", hint=f"Set {SUPABASE_URL_ENV} and {SUPABASE_KEY_ENV}, or pass --dsn.")
        outbox = Outbox(open_db())
        try:
            pushed, quarantined = push_outbox(outbox, sink)
        finally:
            sink.close()
        out.document({"ok": quarantined == 0, "pushed": pushed, "quarantined": quarantined,
                      "pending": outbox.pending_count()})
        if quarantined:
            raise typer.Exit(EXIT_PARTIAL)


def runs(
    limit: Annotated[int, typer.Option("--limit", min=1, help="How many recent runs.")] = 20,
    json_output: JsonFlag = False,
) -> None:
    """List recent sync runs (newest first) with their counts, watermarks and errors.

    Example: retsctl runs --json
    """
    from retsctl.store.db import open_db
    from retsctl.store.runs import RunLog

    out = Output.for_json_flag(json_output)
    with error_boundary(out):
        rows = RunLog(open_db()).recent(limit)
        columns = ["id", "status", "mode", "fetched", "inserted", "updated", "deleted", "watermark_after"]
        out.rows(rows, table_columns=columns, label="runs")


def properties(
    output_format: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.table,
    status: Annotated[str | None, typer.Option("--status", help="Only rows with this standard status.")] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="At most N rows.")] = None,
    include_deleted: Annotated[bool, typer.Option("--deleted", help="Include rows marked deleted.")] = False,
) -> None:
    """Show the cached ``properties`` rows.

    Example: retsctl properties --status active --limit 10
    """
    from retsctl.store.db import open_db

    out = Output(output_format)
    with error_boundary(out):
        db = open_db()
        where = [] if include_deleted else ["deleted_at IS NULL"]
        params: list[Any] = []
        if status:
            where.append("status = ?")
            params.append(status)
        rows = db["properties"].rows_where(" AND ".join(where) or None, params, order_by="modified_at desc",
                                           limit=limit)
        table_columns = ["external_id", "address", "list_price", "bedrooms", "bathrooms", "status", "modified_at"]
        out.rows(rows, table_columns=table_columns, label="properties")


def import_sqlite_utils_without_data_frames() -> None:
    """Import sqlite-utils with :data:`DATA_FRAME_MODULES` marked absent, then take the marks back
    (psycopg, which a push loads, tests ``"numpy" in sys.modules``)."""
    if "sqlite_utils.db" in sys.modules:
        return
    marked = [name for name in DATA_FRAME_MODULES if name not in sys.modules]
    for name in marked:
        sys.modules[name] = None  # type: ignore[assignment]
    try:
        import sqlite_utils.db  # noqa: F401
    finally:
        for name in marked:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]
