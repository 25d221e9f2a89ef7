"""Settings for a partnership's pack in tests: the invented Example Vale (tests/fixtures/packs/),
or any pack, on the temporary database and outbox folder of the test's own settings."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from config.settings import Settings, load_settings

FIXTURE_PACKS = Path(__file__).resolve().parent / "fixtures" / "packs"
SMALL_KNOWLEDGE = Path(__file__).resolve().parent / "fixtures" / "small_knowledge"
VALE = "example-vale"


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
