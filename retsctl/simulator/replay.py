"""Replay of a ``--record`` capture (HAR 1.2, see interfaces §E): the recorded answers, in order.

Each request is answered by the next unused recorded entry with the same method, path and
arguments (query string plus form body, names compared case-insensitively). Arguments whose
recorded value was masked (``********``) are left out of the comparison, since the live value can
never equal the mask. Absolute URLs in recorded Login answers that point at a recorded server are
rewritten to the replay server, so a client follows the capabilities back to it.
``retsctl.simulator.server.replay_server`` serves a :class:`Recording` over HTTP.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

MASK = "********"
# Headers that describe the recorded transfer, not the content: the replay sets its own.
_TRANSFER_HEADERS = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive", "content-encoding"})
_URL_LINE = re.compile(r"^(\s*[\w.-]+\s*=\s*)(https?://[^/\s?#]+)", re.MULTILINE)

RequestKey = tuple[str, str, frozenset[tuple[str, str]]]


@dataclass(frozen=True)
class RecordedAnswer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


@dataclass
class _Entry:
    method: str
    path: str
    arguments: dict[str, str]
    answer: RecordedAnswer
    used: bool = False


def _arguments(pairs: list[tuple[str, str]]) -> dict[str, str]:
    return {name.lower(): value for name, value in pairs}


def _request_arguments(request: Mapping[str, object]) -> dict[str, str]:
    pairs = [(str(q["name"]), str(q["value"])) for q in request.get("queryString") or []]  # type: ignore[union-attr]
    post = request.get("postData") or {}
    if "x-www-form-urlencoded" in str(post.get("mimeType", "x-www-form-urlencoded")):  # type: ignore[union-attr]
        pairs += parse_qsl(str(post.get("text", "")), keep_blank_values=True)  # type: ignore[union-attr]
    return _arguments(pairs)


def _answer(response: Mapping[str, object]) -> RecordedAnswer:
    content: Mapping[str, object] = response.get("content") or {}  # type: ignore[assignment]
    text = str(content.get("text", ""))
    body = base64.b64decode(text) if content.get("encoding") == "base64" else text.encode("utf-8")
    headers = [
        (str(h["name"]), str(h["value"]))
        for h in response.get("headers") or []  # type: ignore[union-attr]
        if str(h["name"]).lower() not in _TRANSFER_HEADERS and str(h["value"]) != MASK
    ]
    return RecordedAnswer(int(response.get("status", 200)), headers, body)  # type: ignore[call-overload]


class Recording:
    """The exchanges of one capture, handed out in order as matching requests arrive."""

    def __init__(self, entries: list[_Entry], login_path: str, origins: set[str]) -> None:
        self._entries = entries
        self.login_path = login_path
        self._login_route = urlsplit(login_path).path
        self._origins = origins
        self._lock = threading.Lock()

    @classmethod
    def load(cls, path: Path) -> Recording:
        """Read a HAR file; ValueError when it holds no entries."""
        log = json.loads(Path(path).read_text(encoding="utf-8"))["log"]
        entries: list[_Entry] = []
        origins: set[str] = set()
        for item in log.get("entries") or []:
            request = item["request"]
            url = urlsplit(request["url"])
            origins.add(f"{url.scheme}://{url.netloc}")
            entries.append(_Entry(request["method"].upper(), url.path, _request_arguments(request), _answer(item["response"])))
        if not entries:
            raise ValueError(f"{path} holds no recorded exchanges")
        first = urlsplit(log["entries"][0]["request"]["url"])
        login_path = first.path + (f"?{first.query}" if first.query else "")
        return cls(entries, login_path, origins)

    def answer(self, method: str, path: str, arguments: Mapping[str, str], origin: str) -> RecordedAnswer | None:
        """The next unused recorded answer for this request (None when none is left)."""
        with self._lock:
            for entry in self._entries:
                if not entry.used and self._matches(entry, method, path, arguments):
                    entry.used = True
                    return self._rewritten(entry, origin) if entry.path == self._login_route else entry.answer
        return None

    @staticmethod
    def _matches(entry: _Entry, method: str, path: str, arguments: Mapping[str, str]) -> bool:
        if entry.method != method.upper() or entry.path != path:
            return False
        recorded = {name: value for name, value in entry.arguments.items() if value != MASK}
        live = {name: value for name, value in arguments.items() if entry.arguments.get(name) != MASK}
        return recorded == live

    def _rewritten(self, entry: _Entry, origin: str) -> RecordedAnswer:
        answer = entry.answer
        text = answer.body.decode("utf-8", "surrogateescape")

        def point_here(found: re.Match[str]) -> str:
            return found.group(1) + (origin if found.group(2) in self._origins else found.group(2))

        body = _URL_LINE.sub(point_here, text).encode("utf-8", "surrogateescape")
        return RecordedAnswer(answer.status, answer.headers, body)
