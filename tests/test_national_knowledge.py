"""National knowledge names no partnership: every partnership shares knowledge/*.yaml, so a
shipped pack's own names (its name, short name, area, website and contact domains) appear only
in its pack, and the national text says $partnership or $area (knowledge/layers.py).

reports.yaml, learning.yaml and coverage.yaml are not yet covered: their local entries are
still being moved to the packs."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import pytest

from config.partnership import read_pack, shipped_packs

KNOWLEDGE = Path(__file__).resolve().parent.parent / "knowledge"
NATIONAL = (
    "topics.yaml",
    "threshold.yaml",
    "notification_form.yaml",
    "urgent_examples.yaml",
    "actions.yaml",
    "decline.yaml",
)


def _host(address: str) -> str:
    host = urlparse(address).netloc if "//" in address else address.rpartition("@")[2]
    return host.lower().removeprefix("www.")


def local_names(folder: Path) -> set[str]:
    """What names the partnership of the pack in `folder`, in lower case."""
    pack = read_pack(folder, [])
    names = {pack.name, pack.short_name, pack.area, _host(pack.website)}
    for contact in pack.contacts.values():
        if isinstance(contact, dict):
            names |= {_host(str(contact[key])) for key in ("web", "email") if contact.get(key)}
    return {n.lower() for n in names if n}


def packs() -> list[Path]:
    return sorted(p for p in shipped_packs().iterdir() if (p / "partnership.yaml").exists())


def test_the_shipped_pack_has_names_to_look_for() -> None:
    assert any("bedford borough" in local_names(p) for p in packs())


@pytest.mark.parametrize("pack", packs(), ids=lambda p: p.name)
def test_no_national_file_names_a_shipped_partnership(pack: Path) -> None:
    names = local_names(pack)
    found = [
        f"{file}:{n}: {name}"
        for file in NATIONAL
        for n, line in enumerate((KNOWLEDGE / file).read_text(encoding="utf-8").splitlines(), 1)
        if not line.lstrip().startswith("#")
        for name in names
        if name in line.lower()
    ]
    assert found == []
