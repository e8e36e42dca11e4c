"""Suggesting and validating mappings with a live server: fetch just the metadata each step reads.

    with Session(settings) as rets:
        rets.login()
        suggestion = suggest_from_server(rets, "Property", "RES")
        problems = validate_with_server(rets, suggestion.to_mapping())
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from retsctl.mapping.model import Mapping, MappingError
from retsctl.mapping.suggest import SuggestedMapping, lookups_needed, suggest_mapping
from retsctl.mapping.validate import Problem, lookups_used, validate_mapping
from retsctl.rets.metadata import LookupValue
from retsctl.rets.replies import RetsReplyError
from retsctl.rets.session import Session

T = TypeVar("T")


def _optional(fetch: Callable[[], T], default: T) -> T:
    """Metadata a server may not have (20503 and friends): the default instead of failing."""
    try:
        return fetch()
    except RetsReplyError:
        return default


def _lookup_names(session: Session, resource: str) -> list[str]:
    lookups = _optional(lambda: session.get_metadata("METADATA-LOOKUP", resource).lookups(), [])
    return [lookup.lookup_name for lookup in lookups]


def _lookup_values(session: Session, resource: str, names: set[str]) -> dict[str, list[LookupValue]]:
    return {name: _optional(lambda name=name: session.lookup_values(resource, name), []) for name in sorted(names)}


def server_metadata_version(session: Session) -> str | None:
    """The metadata version the server announced at login."""
    login = session.login_response
    return (login.metadata_version if login else None) or None


def check_class(session: Session, resource: str, class_name: str) -> None:
    """Raise :class:`MappingError` (an input error) when the resource has no such class."""
    names = [item.class_name for item in session.classes(resource)]
    if class_name not in names:
        raise MappingError(
            f"resource {resource} has no class {class_name!r}",
            hint=f"Classes of {resource}: {', '.join(names) or 'none'} (see `retsctl metadata classes {resource}`).",
        )


def suggest_from_server(session: Session, resource: str, class_name: str, format: str = "COMPACT") -> SuggestedMapping:
    """Read the metadata :func:`suggest_mapping` needs from a logged-in session and suggest."""
    check_class(session, resource, class_name)
    fields = session.fields(resource, class_name)
    system = _optional(lambda: session.get_metadata("METADATA-SYSTEM").system, None)
    lookups = _lookup_values(session, resource, lookups_needed(fields, _lookup_names(session, resource)))
    return suggest_mapping(
        resource, class_name, session.resources(), session.classes(resource), fields, lookups,
        object_types=_optional(lambda: session.object_types(resource), []),
        format=format,
        metadata_version=server_metadata_version(session) or (system.version if system else None),
        time_zone_offset=system.time_zone_offset if system else None,
    )


def validate_with_server(session: Session, mapping: Mapping) -> list[Problem]:
    """:func:`validate_mapping` against the live metadata of the mapping's class."""
    check_class(session, mapping.resource, mapping.class_name)
    fields = session.fields(mapping.resource, mapping.class_name)
    used = lookups_used(mapping, fields, _lookup_names(session, mapping.resource))
    lookups = _lookup_values(session, mapping.resource, used)
    return validate_mapping(mapping, fields, lookups, metadata_version=server_metadata_version(session))
