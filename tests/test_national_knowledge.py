"""National knowledge names no partnership: every partnership shares knowledge/*.yaml, so a
shipped pack's own names (its name, short name, area, website, contacts' pages, emails and
phones) appear only in its pack, and the national text says $partnership or $area
(knowledge/layers.py). The rule is knowledge/local_names.py's, which `check` warns with."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.partnership import Pack, read_pack, shipped_packs
from knowledge.local_names import named_partnerships, names_of

KNOWLEDGE = Path(__file__).resolve().parent.parent / "knowledge"


def packs() -> list[Pack]:
    folders = sorted(p for p in shipped_packs().iterdir() if (p / "partnership.yaml").exists())
    return [read_pack(folder, []) for folder in folders]


def test_the_shipped_pack_has_names_to_look_for() -> None:
    bedford = [p for p in packs() if p.id == "bedford-borough"]
    assert bedford and any("area" in n.what for n in names_of(bedford[0]))


@pytest.mark.parametrize("pack", packs(), ids=lambda p: p.id)
def test_no_national_file_names_a_shipped_partnership(pack: Pack) -> None:
    assert named_partnerships(KNOWLEDGE, [pack]) == []


def test_a_national_text_naming_a_partnership_is_found(tmp_path: Path) -> None:
    (tmp_path / "topics.yaml").write_text(
        "topics:\n  - id: t\n    answer: Ring Bedford Borough's front door.\n", encoding="utf-8"
    )
    bedford = [p for p in packs() if p.id == "bedford-borough"]
    found = named_partnerships(tmp_path, bedford)
    assert len(found) == 1 and found[0].startswith("topics.yaml: t: answer: names the partnership")
