"""Record schemas: the contract between CharacterDial's stages and its consumers.

Nothing here imports from the rest of the project.
"""

from schemas.arrow import METADATA_TABLE_KEY, METADATA_VERSION_KEY, SCHEMA_VERSION, arrow_schema
from schemas.records import (
    CATEGORIES,
    QUALITY_DIMENSIONS,
    SCENARIOS,
    SOURCES,
    SPLITS,
    Character,
    CharacterProfile,
    Dialogue,
    PreferencePair,
    Quality,
    Reject,
    Turn,
)
from schemas.tables import (
    COMPOSITION_SCHEMA,
    DIALOGUE_SCHEMA,
    REJECT_SCHEMA,
    TABLES,
    export_json_schemas,
    format_validation_error,
    validate_record,
    validate_table,
)

__all__ = [
    "CATEGORIES",
    "COMPOSITION_SCHEMA",
    "DIALOGUE_SCHEMA",
    "METADATA_TABLE_KEY",
    "METADATA_VERSION_KEY",
    "QUALITY_DIMENSIONS",
    "REJECT_SCHEMA",
    "SCENARIOS",
    "SCHEMA_VERSION",
    "SOURCES",
    "SPLITS",
    "TABLES",
    "Character",
    "CharacterProfile",
    "Dialogue",
    "PreferencePair",
    "Quality",
    "Reject",
    "Turn",
    "arrow_schema",
    "export_json_schemas",
    "format_validation_error",
    "validate_record",
    "validate_table",
]
