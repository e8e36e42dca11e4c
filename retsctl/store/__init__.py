"""The local SQLite store: ``$RETSCTL_HOME/retsctl.db`` (metadata cache now; records, runs, outbox later)."""

from retsctl.store.db import open_db

__all__ = ["open_db"]
