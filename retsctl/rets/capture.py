"""Wire capture: every HTTP exchange written to a HAR 1.2 file with every secret masked.

An operator attaches the file to a bug report; ``retsctl simulate --replay FILE`` serves it back.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qsl

import requests

from retsctl import __version__
from retsctl.rets.http import REDACTED, redact_headers

_TEXT_TYPES = re.compile(r"^(text/|application/(xml|json|x-www-form-urlencoded))", re.IGNORECASE)


class WireRecorder:
    """Collects exchanges in memory and writes the HAR file on ``close()``.

    Secrets given to the constructor are masked wherever they appear (URLs, bodies), on top of
    the auth and cookie headers that are always masked.
    """

    def __init__(self, path: str | Path, secrets: Iterable[str] = ()) -> None:
        self.path = Path(path)
        self._secrets = [s for s in secrets if s]
        self._entries: list[dict[str, object]] = []
        self._lock = threading.Lock()

    def record(self, response: requests.Response, body: bytes | None = None) -> None:
        """Record a response (and the 401 hops before it). ``body`` defaults to ``response.content``."""
        self._add_history(response)
        self._add(response, response.content if body is None else body)

    def tee(self, response: requests.Response, chunks: Iterable[bytes]) -> Iterator[bytes]:
        """Pass a streamed body through while keeping a copy; recorded when the stream ends."""
        kept = bytearray()
        try:
            for chunk in chunks:
                kept += chunk
                yield chunk
        finally:
            self._add_history(response)
            self._add(response, bytes(kept))

    def close(self) -> None:
        har = {
            "log": {
                "version": "1.2",
                "creator": {"name": "retsctl", "version": __version__},
                "entries": self._entries,
            }
        }
        self.path.write_text(self._mask(json.dumps(har, indent=1, ensure_ascii=False)), encoding="utf-8")

    def _mask(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text

    def _add_history(self, response: requests.Response) -> None:
        # The 401 challenges answered on the way; their small bodies were read by the auth handler.
        for hop in response.history:
            self._add(hop, hop.content)

    def _add(self, response: requests.Response, body: bytes) -> None:
        request = response.request
        entry = {
            "startedDateTime": datetime.now(UTC).isoformat(),
            "time": round(response.elapsed.total_seconds() * 1000, 1),
            "request": _request_entry(request),
            "response": _response_entry(response, body),
        }
        with self._lock:
            self._entries.append(entry)


def _headers(pairs: Iterable[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"name": name, "value": value} for name, value in redact_headers(pairs)]


def _request_entry(request: requests.PreparedRequest) -> dict[str, object]:
    url = request.url or ""
    query = url.split("?", 1)[1] if "?" in url else ""
    entry: dict[str, object] = {
        "method": request.method,
        "url": url,
        "httpVersion": "HTTP/1.1",
        "headers": _headers(request.headers.items()),
        "queryString": [{"name": k, "value": v} for k, v in parse_qsl(query, keep_blank_values=True)],
        "cookies": [],
        "headersSize": -1,
        "bodySize": len(request.body or b""),
    }
    if request.body:
        body = request.body if isinstance(request.body, str) else request.body.decode("utf-8", "replace")
        entry["postData"] = {"mimeType": request.headers.get("Content-Type", ""), "text": body}
    return entry


def _response_entry(response: requests.Response, body: bytes) -> dict[str, object]:
    mime = response.headers.get("Content-Type", "")
    content: dict[str, object] = {"size": len(body), "mimeType": mime, **_body_text(body, mime)}
    return {
        "status": response.status_code,
        "statusText": response.reason or "",
        "httpVersion": "HTTP/1.1",
        "headers": _headers(response.headers.items()),
        "cookies": [],
        "content": content,
        "redirectURL": response.headers.get("Location", ""),
        "headersSize": -1,
        "bodySize": len(body),
    }


def _body_text(body: bytes, mime: str) -> dict[str, str]:
    """Text bodies stay readable; binary ones, and text that is not UTF-8, are kept byte-exact."""
    if _TEXT_TYPES.match(mime) or not mime:
        try:
            return {"text": body.decode("utf-8")}
        except UnicodeDecodeError:
            pass
    return {"text": base64.b64encode(body).decode("ascii"), "encoding": "base64"}
