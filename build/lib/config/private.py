"""Files and folders for the owner's eyes only: the assistant's data (the database, its WAL, the
log, the .eml files) holds details of children who died or were seriously harmed.

The modes are set explicitly, whatever the umask: `mkdir(mode=0o700, parents=True)` gives only
the last folder that mode (the parents get the umask's), and an umask of 022 made the data
folder 0755 and the log 0644. `main()` also sets the process's umask to 077, so whatever a
library creates (SQLite's -wal and -shm files) is private too.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)

FOLDER_MODE = 0o700
FILE_MODE = 0o600
UMASK = 0o077


def private_folder(path: Path, ours: bool = False) -> Path:
    """Create `path` and any missing parents as 0700. An existing folder others can read is
    narrowed when it is `ours` alone (the .eml folder); any other (the database's, which an
    operator may have chosen) is only warned about, since it may hold more than our files."""
    missing = []
    folder = path
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for new in reversed(missing):
        with contextlib.suppress(FileExistsError):  # made by another process meanwhile
            new.mkdir(mode=FOLDER_MODE)
        os.chmod(new, FOLDER_MODE)
    if missing:
        return path
    if ours:
        _narrow(path, FOLDER_MODE, "folder")
    elif path.stat().st_mode & 0o077 and not path.stat().st_mode & stat.S_ISVTX:
        log.warning(
            "the data folder %s can be listed by others: make it the owner's only (chmod 700)",
            path,
        )
    return path


def private_file(path: Path) -> Path:
    """Create `path` (its folder too, see `private_folder`) as 0600 if missing; narrow it if
    it exists."""
    private_folder(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, FILE_MODE)
    os.close(fd)
    _narrow(path, FILE_MODE, "file")
    return path


def narrow(path: Path) -> None:
    """Make an existing file owner-only if it is not (files SQLite made beside the database)."""
    _narrow(path, FILE_MODE, "file")


def _narrow(path: Path, mode: int, what: str) -> None:
    try:
        info = path.stat()
    except FileNotFoundError:
        return
    if not info.st_mode & 0o077:
        return
    if info.st_uid != os.geteuid() or info.st_mode & stat.S_ISVTX:
        log.warning("%s %s is readable by others and is not ours to change", what, path.name)
        return
    try:
        os.chmod(path, mode)
    except PermissionError:
        log.warning("%s %s is readable by others and cannot be changed", what, path.name)
        return
    log.info("%s %s was readable by others: now owner only", what, path.name)
