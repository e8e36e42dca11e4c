"""The RETS 1.x protocol client: a library with no UI and no storage.

    from retsctl.rets import ConnectionSettings, Session
    with Session(ConnectionSettings(login_url, username, password)) as rets:
        rets.login()
        for record in rets.search("Property", "RES", "(ListPrice=300000+)"):
            print(record["ListingKey"])
"""

from retsctl.rets.http import ConnectionSettings
from retsctl.rets.replies import (
    RetsAuthError,
    RetsError,
    RetsNetworkError,
    RetsProtocolError,
    RetsReplyError,
)
from retsctl.rets.session import Session

__all__ = [
    "ConnectionSettings",
    "RetsAuthError",
    "RetsError",
    "RetsNetworkError",
    "RetsProtocolError",
    "RetsReplyError",
    "Session",
]
