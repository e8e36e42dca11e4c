"""A spec-faithful RETS 1.7.2/1.8 server on loopback with a seeded synthetic MLS.

The embedded default for demos, the real server behind the tests, and the source of benchmark
data. ``start_simulator`` serves a :class:`~retsctl.simulator.dataset.Dataset`;
:class:`~retsctl.simulator.quirks.Quirks` switches on misbehaviours of real servers;
``replay_server`` serves a ``--record`` capture back; ``serve_forever`` backs ``retsctl simulate``.
"""

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
