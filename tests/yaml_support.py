"""YAML for the tests' own reading and editing of knowledge files, with libyaml (C) when PyYAML
has it, as the program itself reads (config/validation.py): PyYAML's pure-Python parser took
seconds over topics.yaml in each test that edits a copy of the shipped knowledge."""

from __future__ import annotations

from typing import Any

import yaml

from config.validation import SAFE_LOADER

SAFE_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def load(text: Any) -> Any:
    """As yaml.safe_load."""
    return yaml.load(text, Loader=SAFE_LOADER)


def dump(data: Any, stream: Any = None, **options: Any) -> Any:
    """As yaml.safe_dump."""
    return yaml.dump(data, stream, Dumper=SAFE_DUMPER, **options)
