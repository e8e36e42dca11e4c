"""Set-up for retsctl's own processes (the command line, the sync's writer), never for a program
that imports retsctl as a library."""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Sequence
from types import ModuleType

# sqlite-utils imports these when they are installed, to accept their values in inserts; retsctl
# never passes any. Where they are installed they cost each command about 50 ms and 12 MB.
UNUSED_OPTIONAL_MODULES = ("numpy", "pandas")
_LOOKS_FOR_THEM = "sqlite_utils.db"


def skip_unused_optional_imports() -> None:
    """Have sqlite-utils find :data:`UNUSED_OPTIONAL_MODULES` absent when it is imported.

    They are marked absent (``sys.modules[name] = None``) only while its module is executed:
    other libraries test ``"numpy" in sys.modules`` and would take a mark for the real thing.
    """
    if _LOOKS_FOR_THEM in sys.modules:
        return
    marked = [name for name in UNUSED_OPTIONAL_MODULES if name not in sys.modules]
    sys.meta_path.insert(0, _MarkAbsentWhileLoading(marked))


class _MarkAbsentWhileLoading(importlib.abc.MetaPathFinder):
    """Finds nothing itself: wraps the loading of sqlite-utils' module, once."""

    def __init__(self, marked: list[str]) -> None:
        self.marked = marked

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if fullname != _LOOKS_FOR_THEM:
            return None
        sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and isinstance(spec.loader, importlib.abc.Loader):
            spec.loader = _Marking(spec.loader, self.marked)
        return spec


class _Marking(importlib.abc.Loader):
    def __init__(self, loader: importlib.abc.Loader, marked: list[str]) -> None:
        self.loader = loader
        self.marked = marked

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self.loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        for name in self.marked:
            sys.modules.setdefault(name, None)  # type: ignore[arg-type]
        try:
            self.loader.exec_module(module)
        finally:
            for name in self.marked:
                if name in sys.modules and sys.modules[name] is None:
                    del sys.modules[name]
