"""The registry of agency Liaison Officers (SLOs) and the partnership's staff, from YAML.

Only a registered SLO may sign in to submit a notification, and only a registered administrator
may use the board's commands (/unanswered, /reload, /outbox). The partnership's staff are listed
with a role, `staff` or `admin` (`staff:`); the older `administrators:` list of addresses still
works, each address an `admin`. Problems are collected and reported in the knowledge base's
format, `file: entry: field: what is wrong`, so `check` shows them all at once. Addresses are
compared case-insensitively: people type their address in any case.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    "ROLES",
    "KnowledgeError",
    "Officer",
    "Registry",
    "RegistryChanged",
    "StaffMember",
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


# A member of the partnership's staff is one or the other: an admin may do all a staff member
# may, and run the assistant (/unanswered, /outbox, /reload).
ROLES = ("staff", "admin")


@dataclass(frozen=True)
class StaffMember:
    """Someone of the partnership's business unit. `email` is stored normalised."""

    email: str
    role: str  # one of ROLES
    name: str = ""


@dataclass(frozen=True)
class Registry:
    officers: tuple[Officer, ...]
    staff: tuple[StaffMember, ...] = ()

    @property
    def administrators(self) -> frozenset[str]:
        """The normalised addresses of the staff whose role is admin."""
        return frozenset(s.email for s in self.staff if s.role == "admin")

    def officer(self, email: str) -> Officer | None:
        key = normal_email(email)
        return next((o for o in self.officers if o.email == key), None)

    def member(self, email: str) -> StaffMember | None:
        key = normal_email(email)
        return next((s for s in self.staff if s.email == key), None)

    def role(self, email: str) -> str | None:
        """ "admin", "staff", or None for someone who is not on the partnership's staff."""
        member = self.member(email)
        return member.role if member is not None else None

    def is_admin(self, email: str) -> bool:
        return self.role(email) == "admin"

    def is_staff(self, email: str) -> bool:
        """On the partnership's staff, in either role."""
        return self.member(email) is not None

    def knows(self, email: str) -> bool:
        """Whether a sign-in code may be sent to `email`: an SLO or a member of staff."""
        return self.officer(email) is not None or self.is_staff(email)

    def fingerprint(self) -> str:
        """What tells two registries apart (every field), without naming anyone: processes
        sharing a database must use the same one."""
        officers = sorted([o.id, o.name, o.agency, o.email, o.phone] for o in self.officers)
        staff = sorted([m.email, m.role, m.name] for m in self.staff)
        content = json.dumps([officers, staff], sort_keys=True)
        return hashlib.sha256(content.encode()).hexdigest()


class RegistryChanged(Exception):
    """The registry file is not the registry in use on the database: the process must not
    start (starting would sign out the chats of the processes that use the other one)."""


def _officer(reader: EntryReader, valid: Callable[[str], bool]) -> Officer:
    email = reader.text("email", max_length=254)
    if email and not valid(email):
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


def _staff(
    data: Any, file: str, problems: Problems, valid: Callable[[str], bool]
) -> list[StaffMember]:
    """`staff:` (email, role, optional name) and the older `administrators:` (addresses)."""
    members: list[StaffMember] = []
    raw_staff = data.get("staff") if isinstance(data, dict) else None
    if raw_staff is not None and not isinstance(raw_staff, list):
        problems.add(file, "staff", "-", "expected a list of {email, role, name}")
        raw_staff = []
    for i, raw in enumerate(raw_staff or [], 1):
        where = f"staff[{i}]"
        if not isinstance(raw, dict):
            problems.add(file, where, "-", "expected a mapping with email, role and name")
            continue
        for key in sorted(set(raw) - {"email", "role", "name"}, key=str):
            problems.add(file, where, str(key), "unknown field (allowed: email, name, role)")
        email, role, name = raw.get("email"), raw.get("role", "staff"), raw.get("name", "")
        if not isinstance(email, str) or not valid(email):
            problems.add(file, where, "email", f"not an email address: {email!r}")
            continue
        if role not in ROLES:
            problems.add(file, where, "role", f"must be {' or '.join(ROLES)}, not {role!r}")
            continue
        if not isinstance(name, str):
            problems.add(file, where, "name", "expected text")
            name = ""
        members.append(StaffMember(normal_email(email), role, name.strip()))
    raw_admins = data.get("administrators") if isinstance(data, dict) else None
    if raw_admins is not None and not isinstance(raw_admins, list):
        problems.add(file, "administrators", "-", "expected a list of email addresses")
        raw_admins = []
    for i, value in enumerate(raw_admins or [], 1):
        if not isinstance(value, str) or not valid(value):
            problems.add(file, f"administrators[{i}]", "-", f"not an email address: {value!r}")
        else:
            members.append(StaffMember(normal_email(value), "admin"))
    unique: dict[str, StaffMember] = {}
    for member in members:
        known = unique.get(member.email)
        if known is not None and known.role != member.role:
            problems.add(
                file, member.email, "role", f"listed as both {known.role} and {member.role}"
            )
        unique.setdefault(member.email, member)
    return list(unique.values())


def _checked(address: str) -> bool:
    return True


def load_registry(path: Path, addresses_checked: bool = False) -> Registry:
    """Load and validate the registry at `path`; raise ValidationError listing every problem.
    With `addresses_checked`, its addresses are known to pass `is_email` (this very file passed
    before: bot/core/loading.py), and are not checked again."""
    valid = _checked if addresses_checked else is_email
    file = path.name
    problems = Problems()
    data = load_yaml(path, problems)
    if isinstance(data, dict):
        for key in data:
            if key not in ("liaison_officers", "staff", "administrators"):
                problems.add(file, "-", str(key), "unknown section")
    officers: list[Officer] = []
    allowed = {"id", "name", "agency", "email", "phone"}
    for i, raw in enumerate(entry_list(data, "liaison_officers", file, problems), 1):
        officers.append(_officer(EntryReader(problems, file, raw, allowed, i), valid))
    check_unique_ids([o.id for o in officers], file, problems)
    seen: dict[str, str] = {}
    for officer in officers:
        if officer.email and officer.email in seen:
            problems.add(file, officer.id, "email", f"also the address of {seen[officer.email]}")
        seen.setdefault(officer.email, officer.id)
    staff = _staff(data, file, problems, valid)
    problems.raise_if_any()
    return Registry(tuple(officers), tuple(staff))
