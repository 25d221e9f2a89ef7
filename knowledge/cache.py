"""What start-up derives from the knowledge, kept between runs: named by what it comes from.

Embedding the knowledge's texts (the names, the urgent and decline examples), filling the Word
template with sample answers and parsing the YAML cost more than the rest of loading together,
and give the same result until the knowledge, the template or the model changes. `Cache` keeps
each result in a folder (settings `cache_dir`, var/cache by default) in a file named by a
digest of everything it was computed from: an edit simply makes a new name, so nothing is ever
stale, and `check` writes them for the next start. When the folder cannot be written (a
read-only installation), everything is computed at each start, as before. Files unused for a
month are deleted when a new one is written.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import importlib.util
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

STALE_SECONDS = 30 * 24 * 3600
VERSION = b"cache-1"  # change it when what a file holds changes meaning

_written = 0  # files this process has written (`written`)


def written() -> int:
    """How many derived files this process has written: none when every one was read back
    (bot/cli/main.py restarts a long-lived process that had to build them)."""
    return _written


def digest(parts: Iterable[bytes | str]) -> str:
    """A name for what `parts` compute."""
    hashed = hashlib.sha256(VERSION)
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        hashed.update(len(data).to_bytes(8, "little") + data)
    return hashed.hexdigest()[:40]


class Cache:
    """Results derived from content, in `folder`; with None, nothing is kept."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder

    def vectors(self, model: Any, texts: Sequence[str]) -> np.ndarray:
        """The normalised float32 vectors of `texts` by `model`: read back, or computed and
        kept. A model without a `fingerprint` (a test's stand-in) is never cached."""
        fingerprint = getattr(model, "fingerprint", None)
        if self.folder is None or fingerprint is None:
            return np.asarray(model.embed(list(texts), norm=True), dtype=np.float32)
        path = self.folder / f"vectors-{digest([fingerprint(), *texts])}.npy"
        try:
            vectors = np.load(path, allow_pickle=False)
        except (OSError, ValueError):
            vectors = None  # not there yet, or unreadable: computed again
        if vectors is not None and vectors.shape[0] == len(texts) and vectors.dtype == np.float32:
            self._used(path)
            return vectors
        vectors = np.asarray(model.embed(list(texts), norm=True), dtype=np.float32)
        self._write(path, lambda f: np.save(f, vectors, allow_pickle=False))
        return vectors

    def parsed(self, text: str, parse: Callable[[str], Any]) -> Any:
        """What `parse(text)` gives (a YAML file's data), read back as JSON, or parsed and kept.
        Data JSON cannot give back exactly (a number as a key, say) is not kept."""
        return self.kept("parsed", [text], lambda: parse(text))

    def kept(self, kind: str, parts: Iterable[bytes | str], compute: Callable[[], Any]) -> Any:
        """What `compute()` gives from `parts` (data JSON can hold), read back, or computed and
        kept. Data JSON cannot give back exactly (a number as a key, say) is not kept."""
        if self.folder is None:
            return compute()
        path = self.folder / f"{kind}-{digest(parts)}.json"
        try:
            data = json.loads(path.read_bytes(), object_hook=_from_json)
        except (OSError, ValueError):
            pass  # not there yet, or unreadable: computed again
        else:
            self._used(path)
            return data
        data = compute()
        encoded = _encoded(data)
        if encoded is not None:
            self._write(path, lambda f: f.write(encoded))
        return data

    def passed(self, check: str, parts: Iterable[bytes | str]) -> bool:
        """Whether `check` passed before on exactly these inputs."""
        if self.folder is None:
            return False
        path = self._mark(check, parts)
        if path.is_file():
            self._used(path)
            return True
        return False

    def note_passed(self, check: str, parts: Iterable[bytes | str]) -> None:
        if self.folder is not None:
            self._write(self._mark(check, parts), lambda f: None)

    def _mark(self, check: str, parts: Iterable[bytes | str]) -> Path:
        assert self.folder is not None
        return self.folder / f"{check}-{digest(parts)}.passed"

    @staticmethod
    def _used(path: Path) -> None:
        with contextlib.suppress(OSError):
            os.utime(path)  # in use, so not stale

    def _write(self, path: Path, write: Any) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Written whole, then renamed: another process never reads half a file.
            with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as f:
                try:
                    write(f)
                except BaseException:
                    os.unlink(f.name)
                    raise
            os.replace(f.name, path)
            global _written
            _written += 1
            self._prune(path)
        except OSError as exc:
            log.info("the cache cannot be written (%s): computing at each start", exc)

    @staticmethod
    def _prune(keep: Path) -> None:
        now = time.time()
        for old in keep.parent.iterdir():
            with contextlib.suppress(OSError):
                if old != keep and now - old.stat().st_mtime > STALE_SECONDS:
                    old.unlink()


def library_stamp(package: str) -> str:
    """Which installed version of `package` is there (its file's path, size and time), found
    without importing it: a result another version may compute differently is computed again."""
    spec = importlib.util.find_spec(package)
    origin = Path(spec.origin) if spec is not None and spec.origin else None
    if origin is not None and origin.is_file():
        stat = origin.stat()
        return f"{origin}:{stat.st_size}:{stat.st_mtime_ns}"
    return f"{package}: not found"


class InMemory:
    """`Cache.parsed` for one process, in memory: each text parsed once, and every caller given
    a fresh copy (read back from JSON) it may change. For the test suite's shared knowledge
    (knowledge/loader.py `shared`), where hundreds of loads read mostly the same files."""

    def __init__(self) -> None:
        self.kept: dict[str, bytes] = {}

    def parsed(self, text: str, parse: Callable[[str], Any]) -> Any:
        key = digest([text])
        encoded = self.kept.get(key)
        if encoded is not None:
            return json.loads(encoded, object_hook=_from_json)
        data = parse(text)
        encoded = _encoded(data)
        if encoded is not None:
            self.kept[key] = encoded
        return data


def _encoded(data: Any) -> bytes | None:
    """`data` as JSON that gives it back exactly, or None (a number as a key, say)."""
    try:
        encoded = json.dumps(data, default=_to_json, ensure_ascii=False).encode()
    except (TypeError, ValueError):
        return None
    return encoded if json.loads(encoded, object_hook=_from_json) == data else None


DATE = "__date__"  # a YAML date (learning records' `checked:`), as JSON holds it


def _to_json(value: Any) -> Any:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return {DATE: value.isoformat()}
    raise TypeError(f"{type(value).__name__} is not kept")


def _from_json(value: dict[str, Any]) -> Any:
    if len(value) == 1 and DATE in value:
        return dt.date.fromisoformat(value[DATE])
    return value
