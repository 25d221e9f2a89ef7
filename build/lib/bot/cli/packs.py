"""Partnerships' packs from the command line: `check` of every pack, and `new-partnership`.

`check` loads each pack in the partnerships folder as the assistant would serve it (its settings,
the national knowledge with its own over it, its registry), so a partnership that is not served
yet is checked as well as those that are. It lists every problem, and warns about what works but
must be settled before going live: each contact the partnership has not confirmed, each
national text that names a partnership (it would reach every other partnership's users), each
line of the canonical index nothing answers, and each learning record not yet checked against
its report.

`new-partnership "NAME"` writes a pack holding nothing of any other partnership: its fields are
placeholders ("REPLACE: ...") that `check` names until they are filled in, its contacts all
unconfirmed, its registry and catalogue empty.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bot.core.loading import load_all
from config import teams_manifest
from config.partnership import PACK_FILE, REGISTRY_FILE, Pack, read_pack
from config.settings import ROOT, Settings, SettingsError
from config.validation import ID_CHARS, KnowledgeError
from knowledge.coverage import gaps
from knowledge.loader import Knowledge
from knowledge.local_names import named_partnerships

# The Teams app's manifest template and icons (docs/teams.md).
TEAMS_APP = ROOT / "deploy" / "teams"


@dataclass
class Checked:
    partnerships: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def pack_ids(folder: Path) -> list[str]:
    """The packs in a partnerships folder: each sub-folder with a partnership.yaml."""
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if (p / PACK_FILE).is_file())


def unconfirmed(settings: Settings, label: str) -> list[str]:
    return [
        f"{label}contacts.{key}: example details ({settings.contacts.get(key).name}), not yet "
        "confirmed by the partnership: check them, then set confirmed: true"
        for key in settings.contacts.unconfirmed()
    ]


def check_packs(
    settings: Settings, settings_of: Callable[[str], Settings] | None = None
) -> Checked:
    """Every pack beside `settings`' own (when `settings_of` can read another's settings),
    loaded as it would be served: its problems and warnings, each named by its pack."""
    ids = [settings.partnership]
    if settings_of is not None:
        ids = pack_ids(settings.pack_path.parent) or ids
    checked = Checked()
    packs: list[Pack] = []
    for pid in ids:
        label = f"{pid}: " if len(ids) > 1 else "settings: "
        try:
            own = settings if pid == settings.partnership else settings_of(pid)  # type: ignore[misc]
        except SettingsError as exc:
            checked.problems += str(exc).splitlines()
            # Its settings cannot be built (placeholders, say): its contacts as written.
            pack = read_pack(settings.pack_path.parent / pid, [])
            checked.warnings += [
                f"{label}contacts.{key}: not yet confirmed by the partnership: check it, then "
                "set confirmed: true"
                for key, contact in pack.contacts.items()
                if not (isinstance(contact, dict) and contact.get("confirmed") is True)
            ]
            continue
        checked.partnerships.append(pid)
        try:
            knowledge = load_all(own).knowledge
            # The vectors of the names and examples, computed now and kept in the cache
            # (knowledge/embedding.py), so that the next start (or `ask`) reads them back.
            knowledge.wait()
        except KnowledgeError as exc:
            checked.problems += exc.problems
        else:
            checked.warnings += knowledge_warnings(knowledge)
        checked.warnings += unconfirmed(own, label)
        checked.problems += teams_app_problems(own, label if len(ids) > 1 else "")
        packs.append(read_pack(own.pack_path, []))
    checked.warnings += named_partnerships(settings.knowledge_path, packs)
    checked.problems = list(dict.fromkeys(checked.problems))  # national problems once
    checked.warnings = list(dict.fromkeys(checked.warnings))
    return checked


def teams_app_values(settings: Settings) -> dict[str, str]:
    board = settings.board
    return teams_manifest.values_for(
        settings.endpoints.teams_app_id, board.name, board.short_name, board.website
    )


def teams_app_problems(settings: Settings, label: str) -> list[str]:
    """The Teams app's manifest (deploy/teams/, in a checkout) filled for this partnership."""
    if not (TEAMS_APP / teams_manifest.MANIFEST).is_file():
        return []  # installed from the wheel: the template lives in the repository
    return teams_manifest.problems(TEAMS_APP, teams_app_values(settings), label)


def knowledge_warnings(knowledge: Knowledge) -> list[str]:
    """What the knowledge lacks but works without: lines of the canonical index nothing
    answers, and learning records not yet checked against the report itself."""
    return [
        *gaps(knowledge.coverage),
        *(
            f"learning.yaml: {r.id}: some points rest on others' summaries, not yet checked "
            "against the report itself"
            for r in knowledge.learning.unchecked()
        ),
    ]


# --- new-partnership ---------------------------------------------------------------------------


def pack_id(name: str) -> str:
    """'Example Vale Safeguarding Children Partnership' -> 'example-vale-safeguarding-...'."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _contact(
    key: str, name: str, phone: str, extra: str = "", hours: str = "REPLACE: when it answers"
) -> str:
    return (
        f"  {key}:\n    name: {_quoted(name)}\n    phone: {_quoted(phone)}\n"
        f"    hours: {_quoted(hours)}\n{extra}    confirmed: false\n"
    )


def pack_text(name: str) -> str:
    """partnership.yaml of a new pack: the name, and a placeholder everywhere else."""
    return (
        f"# {name}: who it is, who to call when a child may be at risk, who receives what.\n"
        "#\n"
        "# Written by `main.py new-partnership`. Replace every value that starts with REPLACE:\n"
        "# and check every contact with the partnership, then set its `confirmed: true`.\n"
        "# `main.py check` names what is left. docs/partnerships.md explains each field.\n\n"
        f"name: {_quoted(name)}\n"
        'short_name: "REPLACE: its short name, as replies and emails name it"\n'
        'area: "REPLACE: the local authority area it covers"\n'
        'website: "REPLACE: https://its own website/"\n\n'
        "# The safety route: 999 and 101 are national; the rest are the partnership's own.\n"
        "contacts:\n"
        + _contact("emergency", "Police or ambulance (emergency)", "999", hours="any time")
        + _contact(
            "front_door",
            "REPLACE: children's social care front door, as practitioners know it",
            "REPLACE: its phone number",
            '    web: "REPLACE: https://its referral page"\n',
        )
        + _contact(
            "out_of_hours",
            "REPLACE: the out of hours (emergency duty) team",
            "REPLACE: its phone number",
        )
        + _contact(
            "police", "REPLACE: the local police force (non-emergency)", "101", hours="any time"
        )
        + _contact(
            "lado",
            "REPLACE: the LADO",
            "REPLACE: its phone number",
            '    email: "REPLACE: the LADO\'s email address"\n',
        )
        + "  # Also where users are sent when the assistant cannot help, and where hand-offs go.\n"
        "  partnership:\n"
        f"    name: {_quoted(name)}\n"
        '    email: "REPLACE: the partnership\'s email address"\n'
        '    web: "REPLACE: https://its own website/"\n'
        "    confirmed: false\n\n"
        "# Who receives significant incident notifications.\n"
        "recipients:\n"
        '  - "REPLACE: the address that receives notifications"\n\n'
        '# The email channel answers senders at these domains ("*.sch.uk": any subdomain).\n'
        'allowed_email_domains: ["REPLACE: its agencies\' email domains"]\n'
    )


REGISTRY_TEXT = """\
# Who may sign in: each agency's Liaison Officer (SLO), and the partnership's staff with a role.
# Format: docs/signin.md. Only an address listed here receives a sign-in code.
#
# liaison_officers:
#   - id: council-childrens          # short stable name (lowercase letters, digits, hyphens)
#     name: Their Name
#     agency: The Council, Children's Services
#     email: their.name@council.gov.uk
#     phone: "01632 960000"          # optional
# staff:
#   - email: admin@partnership.gov.uk
#     role: admin                    # admin: /unanswered, /outbox, /reload; or staff
liaison_officers: []
staff: []
"""

REPORTS_TEXT = """\
# The partnership's own documents (its local reviews, briefings and forms), added to the
# national catalogue (knowledge/reports.yaml explains each field; its groups can be used, and
# the pack may add its own under `groups:`). An entry with a national entry's id replaces it.
reports: []
"""

TOPICS_TEXT = """\
# The partnership's own answers (its procedures, its local teams), added to the national topics
# (format: README.md, "The knowledge base"). A topic with a national topic's id replaces it.
topics: []
"""


def scaffold(folder: Path, name: str, pid: str | None = None) -> Path:
    """Write a new pack for `name` in the partnerships `folder`; returns its folder. Raises
    ValueError for an unusable name or id, or a pack that exists already."""
    name = " ".join(name.split())
    if not name:
        raise ValueError('give the partnership\'s name, such as "Example Vale Safeguarding ..."')
    pid = pid or pack_id(name)
    if not pid or not set(pid) <= ID_CHARS:
        raise ValueError(f"{pid!r} cannot name a pack: lowercase letters, digits and hyphens")
    target = folder / pid
    if target.exists():
        raise ValueError(f"{target} exists already: nothing written")
    target.mkdir(parents=True)
    (target / PACK_FILE).write_text(pack_text(name), encoding="utf-8")
    (target / REGISTRY_FILE).write_text(REGISTRY_TEXT, encoding="utf-8")
    (target / "reports.yaml").write_text(REPORTS_TEXT, encoding="utf-8")
    (target / "topics.yaml").write_text(TOPICS_TEXT, encoding="utf-8")
    return target
