"""Reading YAML entries while collecting every problem, each named `file: entry: field: what`.

The loaders for topics, reports, the form and the threshold guide (knowledge/) and for the
registry (config/) share this, so that `check` and start-up report all problems at once in one
format, rather than stopping at the first. It lives in config/, the lowest layer, so that
configuration needs nothing from knowledge/.
"""

from __future__ import annotations

import contextlib
import string
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import yaml

ID_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789-_")


class ValidationError(Exception):
    """Invalid knowledge or configuration; `problems` holds one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


# The name the knowledge loaders, main.py and the tests have always caught; the same class.
KnowledgeError = ValidationError


@dataclass(frozen=True)
class Source:
    title: str
    url: str


class Problems:
    def __init__(self) -> None:
        self.items: list[str] = []
        # Files that could not be read or parsed: that one problem says it all, so what the
        # readers of their (missing) content find ("expected a list") is not added to it.
        self.unreadable: set[str] = set()

    def add(self, file: str, entry: str, field: str, what: str) -> None:
        if file in self.unreadable:
            return
        self.items.append(f"{file}: {entry}: {field}: {what}")

    def raise_if_any(self) -> None:
        if self.items:
            raise ValidationError(self.items)


# libyaml's parser when PyYAML was built with it (several times faster on a large catalogue),
# else the pure-Python one; both only build plain data (no Python objects from tags).
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


# Where parsed files are kept between runs, while one is set (`parsed_from`): a function of the
# text and the parser, which gives what the parser would (knowledge/cache.py's `Cache.parsed`).
Keeper = Callable[[str, Callable[[str], Any]], Any]
_KEEPER: ContextVar[Keeper | None] = ContextVar("yaml_keeper", default=None)


@contextlib.contextmanager
def parsed_from(keeper: Keeper | None) -> Iterator[None]:
    """While the block runs, `load_yaml` reads what `keeper` kept of a text parsed before
    (parsing the knowledge's YAML was a fifth of `ask`'s start)."""
    token = _KEEPER.set(keeper)
    try:
        yield
    finally:
        _KEEPER.reset(token)


def _parse(text: str) -> Any:
    return yaml.load(text, Loader=SAFE_LOADER)


def load_yaml(path: Path, problems: Problems, names: Mapping[str, str] | None = None) -> Any:
    """Parse one YAML file; a missing or unparsable file is a problem, not an exception.
    `names` fill in the placeholders of national knowledge ($partnership, $area...: see
    knowledge/layers.py) before it is parsed."""
    try:
        text = path.read_text(encoding="utf-8")
        if names:
            text = string.Template(text).safe_substitute(names)
        keeper = _KEEPER.get()
        return keeper(text, _parse) if keeper is not None else _parse(text)
    except FileNotFoundError:
        problems.add(path.name, "-", "-", "file not found")
        problems.unreadable.add(path.name)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "-"
        problems.add(path.name, where, "-", f"not valid YAML: {getattr(exc, 'problem', exc)}")
        problems.unreadable.add(path.name)
    return None


def is_url(value: str) -> bool:
    parsed = urlparse(value)
    return parsed.scheme in ("http", "https") and "." in parsed.netloc and " " not in value


def entry_list(data: Any, key: str, file: str, problems: Problems) -> list[dict[str, Any]]:
    """The list under `key` at the top of a file, keeping only entries that are mappings."""
    if not isinstance(data, dict) or not isinstance(data.get(key), list):
        problems.add(file, "-", key, f"expected a top-level list named '{key}'")
        return []
    items = []
    for i, raw in enumerate(data[key], 1):
        if isinstance(raw, dict):
            items.append(raw)
        else:
            problems.add(file, f"#{i}", "-", "expected a mapping with id, title...")
    return items


class EntryReader:
    """Typed access to one YAML mapping; every bad value is recorded, and a default returned."""

    def __init__(
        self, problems: Problems, file: str, raw: dict[str, Any], allowed: set[str], index: int
    ) -> None:
        self.problems, self.file, self.raw = problems, file, raw
        raw_id = raw.get("id")
        self.id = raw_id if isinstance(raw_id, str) and raw_id else f"#{index}"
        if not isinstance(raw_id, str) or not raw_id:
            self.add("id", "missing")
        elif not set(raw_id) <= ID_CHARS:
            self.add("id", "use lowercase letters, digits and hyphens only")
        for key in raw:
            if key not in allowed:
                self.add(str(key), f"unknown field (allowed: {', '.join(sorted(allowed))})")

    def add(self, field: str, what: str) -> None:
        self.problems.add(self.file, self.id, field, what)

    def text(self, key: str, required: bool = True, max_length: int | None = None) -> str:
        value = self.raw.get(key)
        if value is None or value == "":
            if required:
                self.add(key, "missing")
            return ""
        if not isinstance(value, str):
            self.add(key, f"expected text, got {type(value).__name__}")
            return ""
        value = value.strip()
        if max_length is not None and len(value) > max_length:
            self.add(key, f"too long: {len(value)} characters, at most {max_length}")
        return value

    def texts(self, key: str, required: bool = False) -> tuple[str, ...]:
        value = self.raw.get(key)
        if value is None:
            if required:
                self.add(key, "missing")
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            self.add(key, "expected a list of non-empty text values")
            return ()
        if required and not value:
            self.add(key, "must not be empty")
        return tuple(v.strip() for v in value)

    def integer(self, key: str, required: bool = False) -> int | None:
        value = self.raw.get(key)
        if value is None:
            if required:
                self.add(key, "missing")
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.add(key, f"expected a whole number, got {value!r}")
            return None
        return value

    def flag(self, key: str, default: bool) -> bool:
        value = self.raw.get(key, default)
        if not isinstance(value, bool):
            self.add(key, f"expected true or false, got {value!r}")
            return default
        return value

    def url(self, key: str, required: bool = True) -> str | None:
        value = self.raw.get(key)
        if value is None:
            if required:
                self.add(key, "missing")
            return None
        if not isinstance(value, str) or not is_url(value):
            self.add(key, f"malformed link {value!r}: expected an http(s) address")
            return None
        return value

    def sources(self, key: str = "sources", required: bool = True) -> tuple[Source, ...]:
        value = self.raw.get(key)
        if value is None or value == []:
            if required:
                self.add(key, "missing: cite at least one source")
            return ()
        if not isinstance(value, list):
            self.add(key, "expected a list of {title, url}")
            return ()
        result = []
        for i, item in enumerate(value, 1):
            if not isinstance(item, dict) or not isinstance(item.get("title"), str):
                self.add(f"{key}[{i}]", "expected a mapping with title and url")
                continue
            url = item.get("url")
            if not isinstance(url, str) or not is_url(url):
                self.add(f"{key}[{i}].url", f"malformed link {url!r}: expected an http(s) address")
                continue
            result.append(Source(item["title"].strip(), url))
        return tuple(result)


def check_unique_ids(ids: list[str], file: str, problems: Problems) -> None:
    seen: set[str] = set()
    for entry_id in ids:
        if entry_id in seen and not entry_id.startswith("#"):
            problems.add(file, entry_id, "id", "duplicate id")
        seen.add(entry_id)
