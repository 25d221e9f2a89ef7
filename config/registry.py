"""The registry of agency Liaison Officers (SLOs) and board administrators, from YAML.

Only a registered SLO may sign in to submit a notification, and only a registered administrator
may use the board's commands (/unanswered, /reload). Problems are collected and reported in the
knowledge base's format, `file: entry: field: what is wrong`, so `check` shows them all at once.
Addresses are compared case-insensitively: people type their address in any case.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from config.addresses import is_email, phone_problem
from config.validation import (
    EntryReader,
    KnowledgeError,
    Problems,
    ValidationError,
    check_unique_ids,
    entry_list,
    load_yaml,
)

__all__ = [
    "KnowledgeError",
    "Officer",
    "Registry",
    "RegistryChanged",
    "ValidationError",
    "is_email",
    "load_registry",
    "normal_email",
]


def normal_email(value: str) -> str:
    """The form in which addresses are stored and compared."""
    return value.strip().lower()


@dataclass(frozen=True)
class Officer:
    """One agency's Liaison Officer. `email` is stored normalised (lowercase)."""

    id: str
    name: str
    agency: str
    email: str
    phone: str | None


@dataclass(frozen=True)
class Registry:
    officers: tuple[Officer, ...]
    administrators: frozenset[str]  # normalised addresses

    def officer(self, email: str) -> Officer | None:
        key = normal_email(email)
        return next((o for o in self.officers if o.email == key), None)

    def is_admin(self, email: str) -> bool:
        return normal_email(email) in self.administrators

    def knows(self, email: str) -> bool:
        """Whether a sign-in code may be sent to `email`: an SLO or an administrator."""
        return self.officer(email) is not None or self.is_admin(email)

    def fingerprint(self) -> str:
        """What tells two registries apart (every field), without naming anyone: processes
        sharing a database must use the same one."""
        officers = sorted([o.id, o.name, o.agency, o.email, o.phone] for o in self.officers)
        content = json.dumps([officers, sorted(self.administrators)], sort_keys=True)
        return hashlib.sha256(content.encode()).hexdigest()


class RegistryChanged(Exception):
    """The registry file is not the registry in use on the database: the process must not
    start (starting would sign out the chats of the processes that use the other one)."""


def _officer(reader: EntryReader) -> Officer:
    email = reader.text("email", max_length=254)
    if email and not is_email(email):
        reader.add("email", f"not an email address: {email!r}")
    phone = reader.text("phone", required=False, max_length=30)
    problem = phone_problem(phone) if phone else None
    if problem:
        reader.add("phone", f"not a phone number: {phone!r}: {problem}")
    return Officer(
        id=reader.id,
        name=reader.text("name", max_length=120),
        agency=reader.text("agency", max_length=200),
        email=normal_email(email),
        phone=phone or None,
    )


def load_registry(path: Path) -> Registry:
    """Load and validate the registry at `path`; raise ValidationError listing every problem."""
    file = path.name
    problems = Problems()
    data = load_yaml(path, problems)
    if isinstance(data, dict):
        for key in data:
            if key not in ("liaison_officers", "administrators"):
                problems.add(file, "-", str(key), "unknown section")
    officers: list[Officer] = []
    allowed = {"id", "name", "agency", "email", "phone"}
    for i, raw in enumerate(entry_list(data, "liaison_officers", file, problems), 1):
        officers.append(_officer(EntryReader(problems, file, raw, allowed, i)))
    check_unique_ids([o.id for o in officers], file, problems)
    seen: dict[str, str] = {}
    for officer in officers:
        if officer.email and officer.email in seen:
            problems.add(file, officer.id, "email", f"also the address of {seen[officer.email]}")
        seen.setdefault(officer.email, officer.id)
    administrators: set[str] = set()
    raw_admins = data.get("administrators") if isinstance(data, dict) else None
    if raw_admins is not None and not isinstance(raw_admins, list):
        problems.add(file, "administrators", "-", "expected a list of email addresses")
        raw_admins = []
    for i, value in enumerate(raw_admins or [], 1):
        if not isinstance(value, str) or not is_email(value):
            problems.add(file, f"administrators[{i}]", "-", f"not an email address: {value!r}")
        else:
            administrators.add(normal_email(value))
    problems.raise_if_any()
    return Registry(tuple(officers), frozenset(administrators))
