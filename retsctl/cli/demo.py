"""``retsctl demo``: the main job end to end on the embedded default (the simulator + local SQLite)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from retsctl import config
from retsctl.cli.errors import error_boundary
from retsctl.cli.output import Output

# The whole pipeline is imported in the command: the simulator, sync engine, store (sqlite-utils, numpy)
# and mapping (tomlkit) would slow every command's start-up.
if TYPE_CHECKING:
    from retsctl.mapping import Mapping
    from retsctl.rets import Session

SUMMARY_KEYS = ("status", "fetched", "inserted", "updated", "unchanged", "deleted", "rejected", "photos", "elapsed_s")


def demo(
    listings: Annotated[int, typer.Option("--listings", min=10, help="How many listings the simulated MLS holds.")] = 2000,
    mapping_out: Annotated[Path, typer.Option("--mapping-out", metavar="FILE", dir_okay=False,
                                              help="Where the suggested mapping is written.")] = Path("mappings/simulator.toml"),
) -> None:
    """Run the whole job against the built-in simulator: log in, suggest a mapping from the
    metadata, full sync into local SQLite, change and delete listings, then sync incrementally.

    Nothing leaves this machine; no password or sink is needed.

    Example: retsctl demo --listings 500
    """
    from retsctl.rets import ConnectionSettings, Session
    from retsctl.simulator import SimulatorConfig, start_simulator
    from retsctl.store.db import open_db
    from retsctl.store.records import Feed
    from retsctl.sync.engine import SyncOptions, SyncRun

    out = Output()
    with error_boundary(out), start_simulator(SimulatorConfig(listings=listings)) as sim:
        out.note(f"Simulated MLS at {sim.login_url} with {listings} listings")
        settings = ConnectionSettings(sim.login_url, sim.username, sim.password)
        with Session(settings) as session:
            login = session.login()
            out.note(f"Logged in: {len(login.capabilities)} capabilities, metadata {login.metadata_version}")
            mapping = _suggested_mapping(out, session, mapping_out)
            db = open_db()
            feed = Feed(source=sim.login_url, resource=mapping.resource, class_name=mapping.class_name, team_id="demo")
            _step(out, "Full sync", SyncRun(session, mapping, db, feed, SyncOptions(full=True, push=False)).run())
            keys = [row["source_key"] for row in db["properties"].rows_where("source = ?", [feed.source], limit=5)]
            for key in keys[:3]:
                sim.touch(key)
            for key in keys[3:5]:
                sim.delete(key)
            out.note(f"Changed {keys[:3]} and deleted {keys[3:5]} on the server")
            _step(out, "Incremental sync with --reconcile",
                  SyncRun(session, mapping, db, feed, SyncOptions(reconcile=True, push=False)).run())
            rows = db["properties"].rows_where("source = ? AND deleted_at IS NULL", [feed.source],
                                               order_by="modified_at desc", limit=5)
            out.rows(rows, table_columns=["external_id", "address", "list_price", "bedrooms", "status", "modified_at"])
        out.note(f"Local cache: {config.db_path()} — try `retsctl runs` and `retsctl properties`.")


def _suggested_mapping(out: Output, session: Session, path: Path) -> Mapping:
    from retsctl.mapping import Mapping, suggest_from_server

    suggestion = suggest_from_server(session, "Property", "RES")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(suggestion.to_toml(), encoding="utf-8")
    out.note(f"Mapping suggested from the metadata written to {path} (unmapped: {suggestion.unmapped or 'none'})")
    return Mapping.load(path)


def _step(out: Output, title: str, summary: object) -> None:
    data = summary.to_json()  # type: ignore[attr-defined]
    out.note(title)
    out.document({key: data[key] for key in SUMMARY_KEYS})
