"""A knowledge folder whose notification form is the small fixture form, so the form's
mechanics are tested whatever the partnership writes in knowledge/notification_form.yaml."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

from config.settings import ROOT, Settings
from tests.signin_support import REGISTRY

FIXTURE_FORM = Path(__file__).parent / "fixtures" / "notification_form.yaml"


def knowledge_with_fixture_form(tmp_path: Path, form: Path = FIXTURE_FORM) -> Path:
    """A copy of the shipped knowledge (topics, reports, template...) with the fixture form."""
    directory = tmp_path / "knowledge"
    if not directory.exists():
        shutil.copytree(ROOT / "knowledge", directory, ignore=shutil.ignore_patterns("*.py"))
    shutil.copyfile(form, directory / "notification_form.yaml")
    return directory


def with_fixture_form(settings: Settings, tmp_path: Path) -> Settings:
    """`settings` with the test registry (tests/signin_support.py) and the fixture form."""
    registry = tmp_path / "liaison_officers.yaml"
    registry.write_text(REGISTRY, encoding="utf-8")
    return dataclasses.replace(
        settings,
        registry_file=str(registry),
        knowledge_dir=str(knowledge_with_fixture_form(tmp_path)),
    )
