"""A knowledge folder whose notification form is the small fixture form, so the form's
mechanics are tested whatever the partnership writes in knowledge/notification_form.yaml."""

from __future__ import annotations

import shutil
from pathlib import Path

from config.settings import ROOT

FIXTURE_FORM = Path(__file__).parent / "fixtures" / "notification_form.yaml"


def knowledge_with_fixture_form(tmp_path: Path, form: Path = FIXTURE_FORM) -> Path:
    """A copy of the shipped knowledge (topics, reports, template...) with the fixture form."""
    directory = tmp_path / "knowledge"
    if not directory.exists():
        shutil.copytree(ROOT / "knowledge", directory, ignore=shutil.ignore_patterns("*.py"))
    shutil.copyfile(form, directory / "notification_form.yaml")
    return directory
