"""Field mappings: one TOML file per MLS feed turns a RETS record into a ``properties`` row.

    mapping = Mapping.load("mappings/default.toml")
    row = mapping.apply(record)          # raises RecordRejected for a record that cannot map
"""

from retsctl.mapping.model import ColumnRule, Mapping, MappingError, SourcePart
from retsctl.mapping.server import suggest_from_server, validate_with_server
from retsctl.mapping.suggest import SuggestedMapping, lookups_needed, suggest_mapping
from retsctl.mapping.transforms import RecordRejected
from retsctl.mapping.validate import Problem, lookups_used, validate_mapping

__all__ = [
    "ColumnRule",
    "Mapping",
    "MappingError",
    "Problem",
    "RecordRejected",
    "SourcePart",
    "SuggestedMapping",
    "lookups_needed",
    "lookups_used",
    "suggest_from_server",
    "suggest_mapping",
    "validate_mapping",
    "validate_with_server",
]
