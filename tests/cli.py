"""Running `python main.py ...` as a user does, in a subprocess, on a temporary database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main_env(tmp_path: Path, settings: str | None = None) -> dict[str, str]:
    """The environment of a fresh machine: no bot token, a database under `tmp_path`, and
    `settings` (YAML text) as the settings file when given."""
    env = {
        k: v for k, v in os.environ.items() if k not in ("TELEGRAM_BOT_TOKEN", "ASSISTANT_SETTINGS")
    }
    env["ASSISTANT_DATABASE"] = str(tmp_path / "assistant.db")
    if settings is not None:
        path = tmp_path / "settings.yaml"
        path.write_text(settings, encoding="utf-8")
        env["ASSISTANT_SETTINGS"] = str(path)
    return env


def run_main(
    tmp_path: Path, *args: str, stdin: str = "", settings: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run main.py with `args`, typing `stdin`, from `tmp_path` (so var/ lands there)."""
    return subprocess.run(
        [sys.executable, str(ROOT / "main.py"), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=main_env(tmp_path, settings),
        cwd=tmp_path,
        timeout=60,
    )
