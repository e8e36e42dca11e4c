"""The RETS 1.x protocol client: a library with no UI and no storage.

    from retsctl.rets import ConnectionSettings, Session
    with Session(ConnectionSettings(login_url, username, password)) as rets:
        rets.login()
        for record in rets.search("Property", "RES", "(ListPrice=300000+)"):
            print(record["ListingKey"])

The names below load on first use: a module that needs only ``retsctl.rets.values`` or
``retsctl.rets.replies`` (the store, the mapping) does not import requests.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from retsctl.rets.http import ConnectionSettings
    from retsctl.rets.replies import RetsAuthError, RetsError, RetsNetworkError, RetsProtocolError, RetsReplyError
    from retsctl.rets.session import Session

_HOMES = {
    "ConnectionSettings": "retsctl.rets.http",
    "RetsAuthError": "retsctl.rets.replies",
    "RetsError": "retsctl.rets.replies",
    "RetsNetworkError": "retsctl.rets.replies",
    "RetsProtocolError": "retsctl.rets.replies",
    "RetsReplyError": "retsctl.rets.replies",
    "Session": "retsctl.rets.session",
}

__all__ = [
    "ConnectionSettings",
    "RetsAuthError",
    "RetsError",
    "RetsNetworkError",
    "RetsProtocolError",
    "RetsReplyError",
    "Session",
]


def __getattr__(name: str) -> object:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value
