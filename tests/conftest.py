"""Shared fixtures: no test touches the real keyring or the developer's RETSCTL_HOME."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import keyring
import keyring.backend
import keyring.errors
import pytest

if TYPE_CHECKING:
    from typer.testing import Result

    from retsctl.simulator import RunningSimulator

# The CLI and the simulator are imported inside their fixtures, so a broken face cannot stop
# every other engineer's tests from being collected.

SECRET_ENV = ("RETSCTL_PASSWORD", "RETSCTL_UA_PASSWORD")


class MemoryKeyring(keyring.backend.KeyringBackend):
    """An in-memory keyring backend for tests."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.store: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.store.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.store[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.store.pop((service, username), None) is None:
            raise keyring.errors.PasswordDeleteError(username)


@pytest.fixture(autouse=True)
def memory_keyring() -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture(autouse=True)
def retsctl_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh RETSCTL_HOME per test, and no password leaking in from the environment."""
    home = tmp_path / "retsctl-home"
    monkeypatch.setenv("RETSCTL_HOME", str(home))
    for name in SECRET_ENV:
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture(scope="session")
def simulator() -> Iterator[RunningSimulator]:
    """One seeded simulator on loopback for the whole run (no lockout, so wrong-password tests
    cannot lock the account for the others)."""
    from retsctl.simulator import SimulatorConfig, start_simulator

    with start_simulator(SimulatorConfig(listings=60, seed=11, lockout_after=1_000_000)) as running:
        yield running


@pytest.fixture
def conn(simulator: RunningSimulator) -> list[str]:
    """The connection options for the shared simulator, password included."""
    return ["--url", simulator.login_url, "--username", simulator.username, "--password", simulator.password]


@pytest.fixture
def run_cli() -> Callable[..., Result]:
    """Invoke the real ``retsctl`` command line in-process; stdout and stderr stay apart."""
    from typer.testing import CliRunner

    from retsctl.cli.app import app

    runner = CliRunner()

    def run(*args: str | Path, env: Mapping[str, str] | None = None) -> Result:
        return runner.invoke(app, [str(a) for a in args], env=env)

    return run
