"""The HTTP wiring under every RETS transaction: headers, auth, UA-Auth, retries, errors, logging.

Everything here is `requests`/`urllib3`; this module only decides *how* they are configured and
turns transport failures into errors an operator can act on.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

import requests
from requests.auth import AuthBase, HTTPBasicAuth, HTTPDigestAuth
from urllib3.util.retry import Retry

from retsctl.rets.replies import RetsAuthError, RetsNetworkError

log = logging.getLogger("retsctl.rets.http")

AuthMode = Literal["auto", "digest", "basic"]
REDACTED = "********"
SECRET_HEADERS = frozenset({"authorization", "rets-ua-authorization", "cookie", "set-cookie", "proxy-authorization"})
# Long Select lists and key batches overflow URL limits on real servers (HTTP 414); past this, POST.
MAX_GET_URL = 2000


@dataclass
class ConnectionSettings:
    """Everything needed to reach one RETS server. Secrets are kept out of ``repr``."""

    login_url: str
    username: str
    password: str = field(default="", repr=False)
    user_agent: str = "retsctl/0.1"
    ua_password: str | None = field(default=None, repr=False)
    rets_version: str = "RETS/1.7.2"
    auth: AuthMode = "auto"
    timeout: float = 60.0
    verify_tls: bool = True
    method: Literal["GET", "POST"] = "GET"
    ua_auth_variant: Literal["standard", "interealty"] = "standard"
    session_cookie: str = "RETS-Session-ID"
    retries: int = 3

    def secrets(self) -> list[str]:
        """The values that must never be shown anywhere."""
        return [s for s in (self.password, self.ua_password) if s]


def ua_auth_digest(user_agent: str, ua_password: str, request_id: str, session_id: str, rets_version: str) -> str:
    """RETS-UA-Authorization response (RETS 1.7.2 §3.10): md5(md5(UA:pw):reqid:session:version)."""
    a1 = hashlib.md5(f"{user_agent.strip()}:{ua_password.strip()}".encode()).hexdigest()
    pieces = (a1, request_id.strip(), session_id.strip(), rets_version.strip())
    return hashlib.md5(":".join(pieces).encode()).hexdigest()


def ua_authorization_header(settings: ConnectionSettings, session_id: str, request_id: str = "") -> str | None:
    """The RETS-UA-Authorization header value for the next request, or None without a UA password."""
    if not settings.ua_password:
        return None
    user_agent = settings.user_agent
    if settings.ua_auth_variant == "interealty":
        # Interealty hashes only the product name and leaves request and session ids empty.
        user_agent, request_id, session_id = user_agent.split("/", 1)[0], "", ""
    digest = ua_auth_digest(user_agent, settings.ua_password, request_id, session_id, settings.rets_version)
    return f"Digest {digest}"


def build_http_session(settings: ConnectionSettings) -> requests.Session:
    """A keep-alive session with RETS headers and transport retries (never retries a 401)."""
    http = requests.Session()
    http.headers.update(
        {"User-Agent": settings.user_agent, "RETS-Version": settings.rets_version, "Accept": "*/*"}
    )
    http.verify = settings.verify_tls
    # RETS transactions only read, so retrying a POST is as safe as retrying a GET.
    retry = Retry(
        total=settings.retries,
        connect=settings.retries,
        read=settings.retries,
        status=settings.retries,
        backoff_factor=0.3,
        status_forcelist=(500, 502, 503, 504),
        allowed_methods=frozenset({"GET", "POST"}),
        raise_on_status=False,
        respect_retry_after_header=True,
    )
    adapter = requests.adapters.HTTPAdapter(max_retries=retry, pool_maxsize=4)
    http.mount("http://", adapter)
    http.mount("https://", adapter)
    return http


def challenge_schemes(response: requests.Response) -> list[str]:
    """The auth schemes a 401 offers, lower-cased, in the order the server listed them."""
    values = response.raw.headers.getlist("WWW-Authenticate") if response.raw is not None else []
    if not values and response.headers.get("WWW-Authenticate"):
        values = [response.headers["WWW-Authenticate"]]
    return [value.strip().split(" ", 1)[0].lower() for value in values if value.strip()]


def auth_for(scheme: str, settings: ConnectionSettings) -> AuthBase:
    """The requests auth handler for ``digest`` or ``basic``."""
    if scheme == "basic":
        return HTTPBasicAuth(settings.username, settings.password)
    return HTTPDigestAuth(settings.username, settings.password)


def choose_scheme(offered: Iterable[str]) -> str | None:
    """Digest when offered (the spec's recommendation), else Basic, else None."""
    offered = list(offered)
    for scheme in ("digest", "basic"):
        if scheme in offered:
            return scheme
    return None


def redact_headers(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(name, REDACTED if name.lower() in SECRET_HEADERS else value) for name, value in headers]


def log_exchange(response: requests.Response) -> None:
    """One debug record per HTTP exchange (``--verbose``), secrets redacted."""
    if not log.isEnabledFor(logging.DEBUG):
        return
    for hop in [*response.history, response]:
        request = hop.request
        lines = [f"> {request.method} {request.url}"]
        lines += [f"> {k}: {v}" for k, v in redact_headers(request.headers.items())]
        lines += [f"< {hop.status_code} {hop.reason}"]
        lines += [f"< {k}: {v}" for k, v in redact_headers(hop.headers.items())]
        log.debug("\n".join(lines))


def network_error(exc: requests.RequestException, url: str) -> RetsNetworkError:
    """Turn a transport failure into an error that says what to check."""
    text = str(exc)
    if isinstance(exc, requests.exceptions.SSLError):
        return RetsNetworkError(
            f"TLS handshake with {url} failed: {_short(text)}",
            hint="The server's certificate is not trusted or the TLS versions do not match; check the URL "
            "(https vs http) or, only to test, pass --insecure.",
        )
    if isinstance(exc, requests.exceptions.Timeout):
        return RetsNetworkError(
            f"{url} did not answer in time ({type(exc).__name__})",
            hint="The server is slow or unreachable; raise --timeout or retry later.",
        )
    if isinstance(exc, requests.exceptions.InvalidURL | requests.exceptions.MissingSchema | requests.exceptions.InvalidSchema):
        return RetsNetworkError(f"invalid login URL {url!r}: {_short(text)}", hint="Pass a full http(s):// login URL.")
    if "Name or service not known" in text or "getaddrinfo failed" in text or "nodename nor servname" in text:
        return RetsNetworkError(f"cannot resolve the host of {url}", hint="Check the login URL's host name for typos.")
    if "Connection refused" in text:
        return RetsNetworkError(
            f"connection to {url} refused",
            hint="Nothing listens there: check the port and URL, or whether the server is down.",
        )
    return RetsNetworkError(
        f"network error talking to {url}: {_short(text)}",
        hint="Check connectivity to the server; the connection was dropped or reset.",
    )


def http_status_error(response: requests.Response, *, logged_in: bool) -> RetsAuthError | RetsNetworkError:
    """Explain an HTTP error status that carried no RETS reply code."""
    status, url = response.status_code, response.url
    if status == 401:
        offered = ", ".join(challenge_schemes(response)) or "none"
        return RetsAuthError(
            f"authentication refused by {url} (HTTP 401; server offers: {offered})",
            hint="Check the username and password (retsctl does not retry, so the account is not locked); "
            "if the server wants another scheme, try --auth basic or --auth digest.",
        )
    if status == 403:
        return RetsAuthError(
            f"access forbidden by {url} (HTTP 403)",
            hint="The server refuses this client: the IP address may not be whitelisted or the User-Agent is "
            "not allowed; ask the MLS to allow this machine's IP and check --user-agent.",
        )
    if status == 404:
        return RetsNetworkError(f"{url} not found (HTTP 404)", hint="Check the login URL's path with the MLS.")
    if status == 412 and logged_in:
        return RetsNetworkError(f"{url} refused the transaction (HTTP 412)", hint="The session is not valid; log in again.")
    return RetsNetworkError(
        f"{url} answered HTTP {status} {response.reason}",
        hint="The server failed; retry later (retsctl already retried transient errors).",
    )


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit] + "…"
