"""``retsctl simulate``: a local RETS server with a seeded MLS, or a replay of a ``--record`` capture.

Every field of :class:`~retsctl.simulator.quirks.Quirks` is an opt-in flag (``--slow-ms 200``,
``--invalid-chars``, ``--offset ignored`` …), documented from the Quirks docstring.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from retsctl.cli.errors import CliError, error_boundary
from retsctl.cli.option_groups import deferred_option_group, keyword
from retsctl.cli.output import Format, Output

# Only the light Quirks dataclass is read when the command is built; the server loads when it runs (it
# brings the protocol package: requests, lxml), which `import retsctl.cli.app` should not pay for.
if TYPE_CHECKING:
    from retsctl.simulator.quirks import Quirks

QUIRKS_PANEL = "Quirks (off by default)"


def _quirk_help(quirks: type[Quirks]) -> dict[str, str]:
    """Each quirk's description from the ``Attributes:`` section of the Quirks docstring."""
    described: dict[str, str] = {}
    name = None
    for line in (inspect.getdoc(quirks) or "").partition("Attributes:")[2].splitlines():
        entry = re.match(r"    (\w+): (.*)", line)
        if entry:
            name = entry[1]
            described[name] = entry[2]
        elif name and line.strip():
            described[name] += " " + line.strip()
    return {name: text.replace("``", "") for name, text in described.items()}


def _quirk_options() -> tuple[list[inspect.Parameter], type[Quirks]]:
    """One option per field of Quirks, and Quirks to build from their values."""
    from retsctl.simulator.quirks import Quirks

    described = _quirk_help(Quirks)
    hints = inspect.get_annotations(Quirks, eval_str=True)
    parameters = [
        keyword(
            quirk.name,
            Annotated[
                hints[quirk.name],
                typer.Option(
                    "--" + quirk.name.replace("_", "-"),
                    help=described.get(quirk.name, quirk.name.replace("_", " ")),
                    rich_help_panel=QUIRKS_PANEL,
                ),
            ],
            quirk.default,
        )
        for quirk in dataclasses.fields(Quirks)
    ]
    return parameters, Quirks


@deferred_option_group("quirks", _quirk_options)
def simulate(
    quirks: Quirks,
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port to listen on; 0 picks a free one.")] = 0,
    listings: Annotated[int, typer.Option("--listings", min=0, help="How many listings the MLS holds.")] = 500,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the generated listings.")] = 1,
    replay: Annotated[
        Path | None,
        typer.Option("--replay", metavar="FILE", exists=True, dir_okay=False, help="Serve a --record capture back."),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Announce the server as one JSON line.")] = False,
) -> None:
    """Run a local RETS server (Digest auth, resource Property) until stopped with Ctrl-C.

    Once listening it prints its login URL, username and password.

    Example: retsctl simulate --listings 200 --port 6103
    """
    from retsctl.simulator import SimulatorConfig, serve_forever

    out = Output(Format.jsonl if json_output else Format.table)
    with error_boundary(out):
        config = SimulatorConfig(listings=listings, seed=seed, quirks=quirks)
        try:
            serve_forever(config, host, port, sys.stdout, json_output, replay=replay)
        except BrokenPipeError:
            raise
        except OSError as error:
            raise CliError(f"cannot serve on {host}:{port}: {error.strerror or error}",
                           hint="Choose another --port (0 picks a free one) or --host.") from None
