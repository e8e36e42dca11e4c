"""The core packages never pull in the faces' libraries (rich, typer, textual), and the command line
starts without the heavy ones (each command imports what it needs when it runs)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

FACE_LIBRARIES = ("textual", "rich", "typer")
# Importing these costs the CLI most of its start-up (about 50 MB and half a second together).
HEAVY_MODULES = ("psycopg", "sqlite_utils", "numpy", "tomlkit", "requests", "lxml", "keyring",
                 "retsctl.rets", "retsctl.simulator", "retsctl.sync", "retsctl.sinks", "retsctl.store", "retsctl.mapping")
# What a query needs no part of: the local database, the sinks and the mapping; nor the keyring
# when the password is given, nor pydantic (which typer 0.29 would import for every command).
NOT_FOR_QUERIES = ("psycopg", "sqlite_utils", "numpy", "tomlkit", "retsctl.sync", "retsctl.sinks", "retsctl.store",
                   "retsctl.mapping", "keyring", "pydantic")

_LOADED = """
import importlib, json, sys
importlib.import_module(sys.argv[1])
print(json.dumps(sorted(sys.modules)))
"""

_PROBE = """
import importlib, json, pkgutil, sys
package = importlib.import_module(sys.argv[1])
imported = [package.__name__]
for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
    importlib.import_module(module.name)
    imported.append(module.name)
faces = sorted({name.split(".")[0] for name in sys.modules} & set(sys.argv[2:]))
print(json.dumps({"imported": imported, "faces": faces}))
"""


@pytest.mark.parametrize("package", ["retsctl.rets", "retsctl.simulator", "retsctl.store"])
def test_core_package_imports_no_face_library(package: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, package, *FACE_LIBRARIES], capture_output=True, text=True, check=True
    )
    report = json.loads(done.stdout)
    assert package in report["imported"]
    assert report["faces"] == []


def test_probe_detects_a_face_library() -> None:
    """The probe itself can fail: the CLI package does import typer and rich."""
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, "retsctl.cli", *FACE_LIBRARIES], capture_output=True, text=True, check=True
    )
    assert {"rich", "typer"} <= set(json.loads(done.stdout)["faces"])


def _heavy(modules: list[str], heavy: tuple[str, ...]) -> list[str]:
    return sorted({name for name in heavy for module in modules if module == name or module.startswith(name + ".")})


def _loaded_by_importing(module: str) -> list[str]:
    done = subprocess.run([sys.executable, "-c", _LOADED, module], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def test_importing_the_cli_app_loads_no_heavy_module() -> None:
    loaded = _loaded_by_importing("retsctl.cli.app")
    assert {"retsctl.cli.app", "retsctl.cli.sync_cmd", "retsctl.cli.demo", "typer"} <= set(loaded)
    assert _heavy(loaded, HEAVY_MODULES) == []


def test_the_heavy_module_check_can_fail() -> None:
    """Importing the sync engine directly does load what the app must not."""
    loaded = _loaded_by_importing("retsctl.sync.engine")
    assert {"retsctl.store", "retsctl.sync", "sqlite_utils", "requests"} <= set(_heavy(loaded, HEAVY_MODULES))


def test_a_query_run_loads_neither_the_database_nor_the_sinks(simulator, conn, tmp_path) -> None:
    """A real ``retsctl query`` process, its imports listed by ``-X importtime`` on stderr."""
    env = os.environ | {"PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring"}
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "retsctl", "query", "Property", "RES", "(ListPrice=0+)", *conn,
         "--format", "jsonl", "--limit", "3"],
        env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert [json.loads(line)["ListingKey"] for line in done.stdout.splitlines()] == simulator.dataset.keys("RES")[:3]
    imported = [line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")]
    assert "retsctl.rets.session" in imported
    assert _heavy(imported, NOT_FOR_QUERIES) == []


def test_the_sync_commands_timeout_default_is_the_sinks() -> None:
    """sync_cmd keeps its own copy, so that building its options does not import the sinks."""
    from retsctl.cli.sync_cmd import SINK_TIMEOUT
    from retsctl.sinks import DEFAULT_TIMEOUT

    assert SINK_TIMEOUT == DEFAULT_TIMEOUT


STUB_NUMPY = """
import os, pathlib
pathlib.Path(os.environ["STUB_MARKER"]).write_text("imported")
raise ImportError("stub numpy")
"""


@pytest.fixture
def stub_numpy(tmp_path, monkeypatch) -> Path:
    """A ``numpy`` first on the path that leaves a marker file when imported (so the tests below
    can fail on a machine without numpy too); returns the marker's path."""
    (tmp_path / "stubs" / "numpy").mkdir(parents=True)
    (tmp_path / "stubs" / "numpy" / "__init__.py").write_text(STUB_NUMPY)
    marker = tmp_path / "numpy-was-imported"
    monkeypatch.setenv("STUB_MARKER", str(marker))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path / "stubs"), *sys.path]))
    return marker


def test_the_stub_numpy_is_what_sqlite_utils_finds(stub_numpy: Path) -> None:
    subprocess.run([sys.executable, "-c", "import sqlite_utils.db"], check=True)
    assert stub_numpy.exists()


def test_a_sync_process_leaves_numpy_alone(simulator, conn, tmp_path, stub_numpy: Path) -> None:
    """A real ``retsctl sync`` imports sqlite-utils with numpy and pandas marked absent."""
    env = os.environ | {"PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring", "RETSCTL_HOME": str(tmp_path)}
    mapping = tmp_path / "sim.toml"
    init = subprocess.run([sys.executable, "-m", "retsctl", "mapping", "init", "--resource", "Property", "--class",
                           "RES", "--out", str(mapping), *conn], env=env, capture_output=True, text=True, timeout=60)
    assert init.returncode == 0, init.stderr[-2000:]
    stub_numpy.unlink(missing_ok=True)  # mapping init may load them: it is not what this test is about
    done = subprocess.run([sys.executable, "-m", "retsctl", "sync", "--mapping", str(mapping), *conn, "--no-photos",
                           "--no-push", "--json"], env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout)["fetched"] > 0
    assert not stub_numpy.exists()


def test_the_marks_are_taken_back_once_sqlite_utils_is_imported() -> None:
    """psycopg (which a push loads) tests ``"numpy" in sys.modules``: the marks must not stay."""
    probe = ("import sys; from retsctl.cli.sync_cmd import import_sqlite_utils_without_data_frames as lean; lean(); "
             "import sqlite_utils.db as d; print(d.np, d.pd, 'numpy' in sys.modules, 'pandas' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["None", "None", "False", "False"]


def test_the_writer_process_leaves_numpy_alone(tmp_path, monkeypatch, stub_numpy: Path) -> None:
    """The writer process marks numpy and pandas absent before sqlite-utils looks for them (it is
    started with the run's import path, where the stub comes first)."""
    from retsctl.store.db import open_db
    from retsctl.store.records import Feed, StagedRecord
    from retsctl.store.runs import Checkpoint
    from retsctl.sync.writer import PageWrite, PageWriter

    monkeypatch.syspath_prepend(str(tmp_path / "stubs"))
    writer = PageWriter(open_db(tmp_path / "retsctl.db"), Feed("http://mls.example/rets/Login", "Property", "RES"),
                        process_after=0)

    def page(key: str) -> PageWrite:
        staged = StagedRecord(key, None, ("ListingKey",), key.encode())
        return PageWrite([staged], [], Checkpoint(1, "q", "timestamp", 1, None, 1), "2026-01-01T00:00:00Z")

    writer.submit(page("K1"))  # inline; starts the process
    deadline = time.monotonic() + 30
    while not writer.process_ready() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert writer.process_ready()
    writer.submit(page("K2"))
    assert [outcome.inserted for outcome in writer.finish()] == [1, 1]
    assert not stub_numpy.exists()


def test_the_writer_process_imports_no_http_or_xml() -> None:
    """The writer process starts with its module alone: the store and the escaped-values codec."""
    loaded = _loaded_by_importing("retsctl.sync.writer")
    assert {"retsctl.store.records", "retsctl.rets.values", "sqlite_utils"} <= set(loaded)
    assert _heavy(loaded, ("requests", "lxml", "retsctl.rets.session", "retsctl.mapping", "typer", "rich")) == []
