"""Settings for a partnership's pack in tests: the invented Example Vale (tests/fixtures/packs/),
or any pack, on the temporary database and outbox folder of the test's own settings."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

from config.settings import ROOT, Settings, load_settings
from tests import yaml_support

FIXTURE_PACKS = Path(__file__).resolve().parent / "fixtures" / "packs"
SMALL_KNOWLEDGE = Path(__file__).resolve().parent / "fixtures" / "small_knowledge"
VALE = "example-vale"
BEDFORD = "bedford-borough"
SHIPPED_BEDFORD = ROOT / "knowledge" / "partnerships" / BEDFORD


def pack_settings(
    base: Settings,
    tmp_path: Path,
    partnership: str = VALE,
    packs: Path = FIXTURE_PACKS,
    knowledge: Path | None = None,
    extra: str = "",
) -> Settings:
    """The settings of `partnership` (its pack in `packs`) over `knowledge` (default: the
    shipped national knowledge), on `base`'s database and outbox folder."""
    text = f"partnership: {partnership}\npartnerships_dir: {packs}\n"
    if knowledge is not None:
        text += f"knowledge_dir: {knowledge}\n"
    path = tmp_path / f"settings-{partnership}.yaml"
    path.write_text(text + extra, encoding="utf-8")
    settings = load_settings(path, environ={})
    return dataclasses.replace(settings, database=base.database, mail=base.mail)


def two_packs(tmp_path: Path) -> Path:
    """A partnerships folder for the small national base (SMALL_KNOWLEDGE): Bedford's real pack
    (its documents under the small base's one group, and a local topic of its own) and Example
    Vale's."""
    folder = tmp_path / "packs"
    bedford = folder / BEDFORD
    bedford.mkdir(parents=True)
    for file in ("partnership.yaml", "liaison_officers.yaml"):
        shutil.copy(SHIPPED_BEDFORD / file, bedford / file)
    reports = yaml_support.load((SHIPPED_BEDFORD / "reports.yaml").read_text(encoding="utf-8"))
    ids = {r["id"] for r in reports["reports"]}
    for report in reports["reports"]:
        report["group"] = "reviews"
        report["related"] = [r for r in report.get("related", []) if r in ids]
    (bedford / "reports.yaml").write_text(yaml_support.dump(reports), encoding="utf-8")
    (bedford / "topics.yaml").write_text(
        yaml_support.dump(
            {
                "topics": [
                    {
                        "id": "bedford-front-door",
                        "title": "Bedford Borough's front door",
                        "answer": "In Bedford Borough, call the MASH on 01234 718700.",
                        "questions": ["what is the bedford front door"],
                        "sources": [
                            {"title": "Bedford Borough", "url": "https://www.bedford.gov.uk/"}
                        ],
                    }
                ]
            }
        ),
        encoding="utf-8",
    )
    shutil.copytree(FIXTURE_PACKS / VALE, folder / VALE)
    return folder
