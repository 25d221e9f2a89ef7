"""Several partnerships from one installation: the settings file's `partnerships:` list, and how
each partnership's secrets are named in the environment.

Without a list the installation serves one partnership (`partnership:`, its pack, the settings
file as it always was). With one, each entry names a partnership by its pack's id and gives what
is its own: its endpoints (a Telegram bot, a mailbox, a web widget's site key, a Teams app) and
any setting that differs from the file's shared ones. What belongs to one partnership cannot be
given at the top of such a file, where it would apply to every partnership: that is refused.

Secrets come from the environment, named `NAME__<ID>`: the partnership's id in capitals with
"-" as "_" (TELEGRAM_BOT_TOKEN__EXAMPLE_VALE). docs/partnerships.md has the whole rule.
This module works on the file's raw mappings; config/settings.py builds the typed settings.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from config.validation import ID_CHARS

# What an entry of `partnerships:` may hold besides its `id`: the sections a partnership may set
# for itself (over the file's shared ones and its pack), and its own registry file.
ENTRY_SECTIONS = (
    "board",
    "telegram",
    "mail",
    "smtp",
    "retention",
    "email",
    "contacts",
    "form",
    "endpoints",
    "web",
    "teams",
)
ENTRY_SCALARS = ("registry_file",)
# One partnership's own, so never at the top of a file with a `partnerships:` list.
OWN_SECTIONS = ("board", "contacts", "email", "endpoints", "registry_file")
OWN_OPTIONS: dict[str, tuple[str, ...]] = {"mail": ("board_addresses",)}
# The one HTTP server and one database serve every partnership: set once, at the top.
SHARED_OPTIONS: dict[str, tuple[str, ...]] = {
    "telegram": ("listen_host", "listen_port", "ready_timeout_seconds")
}

# A partnership's own endpoints' secrets: a bot token or a mailbox password opens one
# partnership's channel, so another partnership never falls back on it.
OWN_SECRETS = frozenset(("TELEGRAM_BOT_TOKEN", "EMAIL_PASSWORD", "TEAMS_APP_PASSWORD"))
# Secrets an installation may share (one mail relay, one app registration, its own webhook
# secret): a partnership's own variable if set, else the shared one.
SHARED_SECRETS = frozenset(("SMTP_PASSWORD", "OAUTH_CLIENT_SECRET", "TELEGRAM_WEBHOOK_SECRET"))


def env_suffix(partnership: str) -> str:
    """ "__EXAMPLE_VALE" for example-vale: what a partnership's own variables end with."""
    return "__" + re.sub(r"[^A-Z0-9]", "_", partnership.upper())


def secret_for(
    environ: Mapping[str, str], name: str, partnership: str, is_default: bool
) -> tuple[str, str]:
    """(value, the variable it came from) of the secret `name` for `partnership`.

    NAME__<ID> first; then plain NAME, for the default partnership (so a single-partnership
    installation keeps working unchanged) and for a secret an installation may share."""
    own = name + env_suffix(partnership)
    if environ.get(own, "").strip():
        return environ[own], own
    if is_default or name in SHARED_SECRETS:
        return environ.get(name, ""), name
    return "", own


def read_entries(raw: dict[str, Any], problems: list[str]) -> dict[str, dict[str, Any]]:
    """The `partnerships:` list as {id: entry}, in order; {} when there is none. Each problem
    of its shape (and anything one partnership's set at the top beside it) is added."""
    listed = raw.get("partnerships")
    if listed is None:
        return {}
    if not isinstance(listed, list) or not listed:
        problems.append("partnerships: expected a list of partnerships, each with its id")
        return {}
    entries: dict[str, dict[str, Any]] = {}
    allowed = {"id", *ENTRY_SECTIONS, *ENTRY_SCALARS}
    for i, entry in enumerate(listed, 1):
        where = f"partnerships[{i}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
            problems.append(f"{where}: expected a mapping with the id of a partnership's pack")
            continue
        pid = entry["id"].strip()
        if not pid or not set(pid) <= ID_CHARS:
            problems.append(f"{where}.id: the pack's folder name: lowercase letters, digits, -")
            continue
        if pid in entries:
            problems.append(f"{where}.id: {pid} is listed twice")
            continue
        for key in sorted(set(entry) - allowed, key=str):
            problems.append(
                f"partnerships.{pid}.{key}: unknown option (allowed: "
                f"{', '.join(sorted(allowed - {'id'}))})"
            )
        for section, names in SHARED_OPTIONS.items():
            for name in names:
                if isinstance(entry.get(section), dict) and name in entry[section]:
                    problems.append(
                        f"partnerships.{pid}.{section}.{name}: set once for the installation, "
                        "at the top of the file"
                    )
        entries[pid] = entry
    for key in OWN_SECTIONS:
        if key in raw:
            problems.append(_own(key))
    for section, names in OWN_OPTIONS.items():
        for name in names:
            if isinstance(raw.get(section), dict) and name in raw[section]:
                problems.append(_own(f"{section}.{name}"))
    return entries


def shared_only(raw: dict[str, Any]) -> dict[str, Any]:
    """The top of a settings file without what is one partnership's own."""
    shared = {k: v for k, v in raw.items() if k not in OWN_SECTIONS}
    for section, names in OWN_OPTIONS.items():
        if isinstance(shared.get(section), dict):
            shared[section] = {k: v for k, v in shared[section].items() if k not in names}
    return shared


def _own(key: str) -> str:
    return (
        f"{key}: one partnership's, so not at the top of a file with a partnerships: list, where "
        "it would apply to all of them: give it under the partnership it belongs to"
    )


def own_place(value: str, partnership: str) -> str:
    """For a partnership other than the default one, its own folder or address inside the
    installation's: `mail.outbox_dir`/<id>, `telegram.webhook_path`/<id> (and webhook_url), so no
    two partnerships share one. The default partnership keeps the installation's own, so adding
    a second partnership changes nothing for the first."""
    return f"{value.rstrip('/')}/{partnership}" if value else value
