"""Knowledge folders with the small fixture form or threshold tree (tests/fixtures/), so the
mechanics of the form and the threshold guide are tested whatever the partnership writes in
knowledge/notification_form.yaml and knowledge/threshold.yaml."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

from config.settings import ROOT, Settings
from tests.signin_support import REGISTRY

FIXTURE_FORM = Path(__file__).parent / "fixtures" / "notification_form.yaml"


FIXTURE_THRESHOLD = Path(__file__).parent / "fixtures" / "threshold.yaml"


def knowledge_with(tmp_path: Path, **files: Path) -> Path:
    """A copy of the shipped knowledge (topics, reports, template...) in which each named file
    is replaced: `knowledge_with(tmp_path, threshold=FIXTURE_THRESHOLD)`."""
    directory = tmp_path / "knowledge"
    if not directory.exists():
        shutil.copytree(
            ROOT / "knowledge", directory, ignore=shutil.ignore_patterns("*.py", "__pycache__")
        )
    for name, source in files.items():
        shutil.copyfile(source, directory / f"{name}.yaml")
    return directory


def knowledge_with_fixture_form(tmp_path: Path, form: Path = FIXTURE_FORM) -> Path:
    """A copy of the shipped knowledge (topics, reports, template...) with the fixture form."""
    return knowledge_with(tmp_path, notification_form=form)


def with_fixture_form(settings: Settings, tmp_path: Path) -> Settings:
    """`settings` with the test registry (tests/signin_support.py) and the fixture form."""
    registry = tmp_path / "liaison_officers.yaml"
    registry.write_text(REGISTRY, encoding="utf-8")
    return dataclasses.replace(
        settings,
        registry_file=str(registry),
        knowledge_dir=str(knowledge_with_fixture_form(tmp_path)),
    )
