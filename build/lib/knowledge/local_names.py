"""The national knowledge names no partnership: `check` warns about every entry that does.

National knowledge (knowledge/*.yaml) is what every partnership's users are told, so a text in
it that names one partnership (its name, short name, area or website, or one of its contacts'
phone numbers, email addresses or web pages) would reach the users of all the others. Such a
text belongs in that partnership's pack (knowledge/partnerships/<id>/), which adds to or
replaces national entries by id. Short national numbers (999, 101) are everyone's: not counted.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from config.partnership import Pack
from config.validation import SAFE_LOADER

# The national files whose texts users read, and the examples the matchers learn from (a local
# name there would pull one partnership's wording into every partnership's matching).
# urgent.yaml holds the detector's words, not text. learning.yaml and coverage.yaml are left
# out: a record may cite the local page where its summary was read, and the coverage index
# lists the local procedures the pack answers.
NATIONAL_FILES = (
    "topics.yaml",
    "reports.yaml",
    "actions.yaml",
    "notification_form.yaml",
    "threshold.yaml",
    "urgent_examples.yaml",
    "decline.yaml",
)
# A phone number with fewer digits is a national short number (999, 101, 111, 116 123).
LOCAL_PHONE_DIGITS = 7


@dataclass(frozen=True)
class Name:
    """One way a text can name a partnership: what it is ("its area") and how to find it."""

    what: str
    pattern: re.Pattern[str]


def _words(text: str) -> re.Pattern[str]:
    """`text` as whole words, in any case and spacing."""
    words = r"\s+".join(re.escape(w) for w in text.split())
    return re.compile(rf"(?<!\w){words}(?!\w)", re.IGNORECASE)


def _phone(digits: str) -> re.Pattern[str]:
    """The number's digits, with any spaces, dots or hyphens between them."""
    return re.compile(r"(?<!\d)" + r"[\s.\-]?".join(digits) + r"(?!\d)")


def _address(url: str) -> re.Pattern[str]:
    """A web address, with or without its scheme, "www." or final slash."""
    bare = re.sub(r"^https?://(www\.)?", "", url.strip()).rstrip("/")
    return re.compile(re.escape(bare), re.IGNORECASE)


def names_of(pack: Pack) -> list[Name]:
    """Every name by which a text could point at `pack`'s partnership."""
    names = [
        Name(f"its {label} {value!r}", _words(value))
        for label, value in (
            ("name", pack.name),
            ("short name", pack.short_name),
            ("area", pack.area),
        )
        if value.strip()
    ]
    if pack.website.strip():
        names.append(Name(f"its website {pack.website}", _address(pack.website)))
    for key, contact in sorted(pack.contacts.items()):
        if not isinstance(contact, dict):
            continue
        web = str(contact.get("web") or "").strip()
        if web:
            names.append(Name(f"its {key} web page {web}", _address(web)))
        digits = re.sub(r"\D", "", str(contact.get("phone") or ""))
        if len(digits) >= LOCAL_PHONE_DIGITS:
            names.append(Name(f"its {key} phone {contact['phone']!s}", _phone(digits)))
        email = str(contact.get("email") or "").strip()
        if email:
            names.append(Name(f"its {key} email {email}", re.compile(re.escape(email), re.I)))
    unique = {n.pattern.pattern: n for n in reversed(names)}  # the website is often a contact's
    return [n for n in names if unique[n.pattern.pattern] is n]


def _texts(node: Any, entry: str, field: str) -> Iterator[tuple[str, str, str]]:
    """(entry id, field path, text) of every text under `node`; a mapping with an `id` starts
    a new entry (a topic, a report, a form's field, a threshold question)."""
    if isinstance(node, dict):
        if isinstance(node.get("id"), str):
            entry, field = node["id"], ""
        for key, value in node.items():
            if key != "id":
                yield from _texts(value, entry, f"{field}.{key}" if field else str(key))
    elif isinstance(node, list):
        for i, item in enumerate(node, 1):
            yield from _texts(item, entry, f"{field}[{i}]")
    elif isinstance(node, str):
        yield entry, field, node


def named_partnerships(national: Path, packs: Sequence[Pack]) -> list[str]:
    """One warning per national text that names one of `packs`' partnerships, as
    `file: entry: field: what`. Unreadable files are left to the loader to report."""
    all_names = [(pack, names_of(pack)) for pack in packs]
    warnings = []
    for file in NATIONAL_FILES:
        try:
            data = yaml.load((national / file).read_text(encoding="utf-8"), Loader=SAFE_LOADER)
        except (OSError, yaml.YAMLError):
            continue
        for entry, field, text in _texts(data, "-", ""):
            for pack, names in all_names:
                found = [n.what for n in names if n.pattern.search(text)]
                if found:
                    warnings.append(
                        f"{file}: {entry}: {field}: names the partnership {pack.id} "
                        f"({'; '.join(found)}): national knowledge reaches every partnership's "
                        f"users; move this text into its pack (partnerships/{pack.id}/{file})"
                    )
    return warnings
