"""A spec-faithful RETS 1.7.2/1.8 server on loopback with a seeded synthetic MLS.

The embedded default for demos, the real server behind the tests, and the source of benchmark
data. ``start_simulator`` serves a :class:`~retsctl.simulator.dataset.Dataset`;
:class:`~retsctl.simulator.quirks.Quirks` switches on misbehaviours of real servers;
``replay_server`` serves a ``--record`` capture back; ``serve_forever`` backs ``retsctl simulate``.

Names load on first use, so reading ``Quirks`` (every ``retsctl`` run builds the ``simulate``
options from it) does not start up the whole server.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from retsctl.simulator.dataset import Dataset
    from retsctl.simulator.quirks import Quirks
    from retsctl.simulator.server import (
        RunningServer,
        RunningSimulator,
        SimulatorConfig,
        replay_server,
        serve_forever,
        start_simulator,
        ua_auth_digest,
    )

_MODULE_OF = {
    "Dataset": "retsctl.simulator.dataset",
    "Quirks": "retsctl.simulator.quirks",
    **dict.fromkeys(
        ["RunningServer", "RunningSimulator", "SimulatorConfig", "replay_server", "serve_forever",
         "start_simulator", "ua_auth_digest"],
        "retsctl.simulator.server",
    ),
}

__all__ = [
    "Dataset",
    "Quirks",
    "RunningServer",
    "RunningSimulator",
    "SimulatorConfig",
    "replay_server",
    "serve_forever",
    "start_simulator",
    "ua_auth_digest",
]


def __getattr__(name: str) -> Any:
    if name not in _MODULE_OF:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_MODULE_OF[name]), name)
