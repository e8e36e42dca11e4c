"""The core packages never pull in the faces' libraries (rich, typer, textual)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

FACE_LIBRARIES = ("textual", "rich", "typer")

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
