"""The data-quality report every sync run keeps: what was repaired, odd or refused, with samples."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

SAMPLES = 5


@dataclass
class Finding:
    count: int = 0
    samples: list[str] = field(default_factory=list)

    def add(self, keys: Iterable[str]) -> None:
        for key in keys:
            self.count += 1
            if len(self.samples) < SAMPLES:
                self.samples.append(key)


@dataclass
class QualityReport:
    """Counts with sample keys; ``as_dict`` is what ``sync_runs.quality`` stores."""

    findings: dict[str, Finding] = field(default_factory=dict)
    repairs: dict[str, int] = field(default_factory=dict)
    count_reported: int | None = None
    delivered: int = 0
    warnings: list[str] = field(default_factory=list)

    def note(self, kind: str, keys: Iterable[str]) -> None:
        self.findings.setdefault(kind, Finding()).add(keys)

    def note_rejection(self, key: str, column: str | None, reason: str) -> None:
        """File a rejected record under what went wrong, so the report groups like with like."""
        if column == "status":
            kind = "unknown_status_codes"
        elif column == "modified_at":
            kind = "unparseable_dates"
        else:
            kind = f"rejected_{column or 'record'}"
        self.note(kind, [key])

    def as_dict(self) -> dict[str, object]:
        report: dict[str, object] = {
            kind: {"count": finding.count, "sample_keys": finding.samples} for kind, finding in self.findings.items()
        }
        report["repairs"] = {name: value for name, value in self.repairs.items() if value}
        report["count_vs_delivered"] = {"count": self.count_reported, "delivered": self.delivered}
        if self.warnings:
            report["warnings"] = self.warnings
        return report
