"""The shared YAML validation now lives in config/validation.py (the lowest layer, so that
config/ needs nothing from knowledge/). This re-export keeps existing imports working."""

from config.validation import (
    ID_CHARS,
    SAFE_LOADER,
    EntryReader,
    KnowledgeError,
    Problems,
    Source,
    ValidationError,
    check_unique_ids,
    entry_list,
    is_url,
    load_yaml,
)

__all__ = [
    "ID_CHARS",
    "SAFE_LOADER",
    "EntryReader",
    "KnowledgeError",
    "Problems",
    "Source",
    "ValidationError",
    "check_unique_ids",
    "entry_list",
    "is_url",
    "load_yaml",
]
