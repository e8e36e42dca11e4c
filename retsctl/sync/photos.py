"""Photo URLs for new and changed listings: GetObject with Location=1, many listings per request."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence

from retsctl.mapping.model import Mapping
from retsctl.properties import PropertyRow
from retsctl.rets import RetsError, Session
from retsctl.rets.replies import NO_OBJECT
from retsctl.sync.quality import QualityReport

log = logging.getLogger("retsctl.sync.photos")


class PhotoFetcher:
    """Fills ``photo_urls``; a server that cannot send URLs turns photos off for the run, not the sync."""

    def __init__(self, session: Session, mapping: Mapping, quality: QualityReport) -> None:
        self.session = session
        self.mapping = mapping
        self.quality = quality
        self.enabled = bool(mapping.photo_object_type)

    def attach(self, rows: Sequence[PropertyRow]) -> int:
        """Set ``photo_urls`` on each row from the server; returns how many URLs were found."""
        keys = [row["source_key"] for row in rows if row.get("source_key")]
        if not self.enabled or not keys:
            return 0
        try:
            urls = self._locations(keys)
        except RetsError as error:
            self.enabled = False
            self.quality.warnings.append(f"photos turned off for this run: {error.message}")
            log.warning("photos turned off for this run: %s", error)
            return 0
        for row in rows:
            row["photo_urls"] = urls.get(row.get("source_key") or "", [])
        return sum(len(found) for found in urls.values())

    def _locations(self, keys: list[str]) -> dict[str, list[str]]:
        found: dict[str, list[tuple[int, str]]] = defaultdict(list)
        for item in self.session.get_objects(self.mapping.resource, str(self.mapping.photo_object_type), keys,
                                             location=True):
            if item.error is not None:
                if item.error.reply_code != NO_OBJECT:
                    self.quality.note("photo_errors", [item.content_id])
                continue
            if item.location:
                found[item.content_id].append((_object_number(item.object_id), item.location))
        return {key: [url for _n, url in sorted(pairs)] for key, pairs in found.items()}


def _object_number(object_id: str) -> int:
    return int(object_id) if object_id.isdigit() else 0
