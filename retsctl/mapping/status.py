"""Reading an MLS's status lookup values as standard statuses, by meaning.

``Active Under Contract``, ``Contingent`` and ``C-Continue Show`` all mean the listing is under
contract but still shown (``active_under_contract``); ``Sold``, ``Leased`` and ``Closed/Rented``
mean ``closed``; ``Temp Off Market`` is a ``hold``. The LongValue is read first, then the
ShortValue, then (as a last resort, with low confidence) the code itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

EXACT = 1.0
CONTAINED = 0.8
CODE_ONLY = 0.5

# Checked in this order, so "active under contract" is found before "active".
_PHRASES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("coming_soon", ("coming soon", "pre market", "premarket")),
    ("active_under_contract", ("active under contract", "under contract", "contingent", "active contingent",
                               "continue show", "continue to show", "backup", "backups", "back up", "kick out",
                               "kickout", "first right", "active option", "option pending", "active with contract")),
    ("pending", ("pending", "pending sale", "sale pending", "under agreement", "accepted offer", "offer accepted")),
    ("hold", ("hold", "on hold", "temp off market", "temporarily off market", "temporary off market", "temp off",
              "suspended")),
    ("closed", ("closed", "sold", "leased", "rented", "settled", "closed sale")),
    ("expired", ("expired",)),
    ("canceled", ("canceled", "cancelled", "cancel", "terminated")),
    ("withdrawn", ("withdrawn", "withdrawal", "off market", "inactive")),
    ("incomplete", ("incomplete", "draft")),
    ("delete", ("delete", "deleted")),
    ("active", ("active", "new", "new listing", "back on market", "price change", "price reduced", "reactivated",
                "extended", "for sale", "available")),
)
# Abbreviations many MLSs use as codes or ShortValues; too ambiguous to trust much (C, X…).
_CODES: dict[str, str] = {
    "a": "active", "act": "active", "p": "pending", "pnd": "pending", "pend": "pending", "s": "closed",
    "sld": "closed", "cls": "closed", "e": "expired", "exp": "expired", "w": "withdrawn", "wdn": "withdrawn",
    "wd": "withdrawn", "cs": "coming_soon", "csn": "coming_soon", "u": "active_under_contract",
    "uc": "active_under_contract", "auc": "active_under_contract", "h": "hold", "hld": "hold",
    "cnl": "canceled", "canc": "canceled", "inc": "incomplete", "del": "delete",
}
_NON_WORD = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class StatusGuess:
    """A standard status for one lookup value (None when nothing fits), how sure, and why."""

    status: str | None
    confidence: float
    reason: str


def _words(text: str) -> str:
    return _NON_WORD.sub(" ", text.lower()).strip()


def _without_code_prefix(text: str, code: str) -> str:
    """``A-Active`` → ``Active``: some MLSs repeat the code in front of the long value."""
    match = re.match(rf"\s*{re.escape(code)}\s*-\s*(?=\w)", text, flags=re.IGNORECASE) if code else None
    return text[match.end():] if match else text


def _by_phrase(text: str) -> tuple[str, float] | None:
    words = _words(text)
    if not words:
        return None
    for status, phrases in _PHRASES:
        if words in phrases:
            return status, EXACT
    padded = f" {words} "
    for status, phrases in _PHRASES:
        if any(f" {phrase} " in padded for phrase in phrases):
            return status, CONTAINED
    return None


def classify_status(value: str, long_value: str | None = None, short_value: str | None = None) -> StatusGuess:
    """The standard status a lookup value (code, LongValue, ShortValue) most likely means."""
    for label, text in (("LongValue", long_value), ("ShortValue", short_value)):
        if text and text.strip():
            found = _by_phrase(_without_code_prefix(text, value))
            if found:
                return StatusGuess(found[0], found[1], f"{label} {text.strip()!r}")
    for text in (short_value, value):
        status = _CODES.get(_words(text or ""))
        if status:
            return StatusGuess(status, CODE_ONLY, f"code {text!r} (abbreviation only)")
    return StatusGuess(None, 0.0, "no standard status recognised")
