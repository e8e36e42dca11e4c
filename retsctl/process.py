"""Set-up for retsctl's own processes (the command line, the sync's writer), never for a program
that imports retsctl as a library."""

from __future__ import annotations

import sys

# sqlite-utils imports these when they are installed, to accept their values in inserts; retsctl
# never passes any. Where they are installed they cost each command about 50 ms and 12 MB.
UNUSED_OPTIONAL_MODULES = ("numpy", "pandas")


def skip_unused_optional_imports() -> None:
    """Mark :data:`UNUSED_OPTIONAL_MODULES` as absent (``import`` raises ImportError), unless
    something imported them already."""
    for name in UNUSED_OPTIONAL_MODULES:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]
