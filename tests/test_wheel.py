"""The wheel installs and runs anywhere: built from a copy of the source, installed into a fresh
virtual environment, and asked a question as `safeguarding-assistant` from another folder.

To keep this fast and free of downloads, the fresh environment gets the wheel alone, and finds
the dependencies through one path line to this project's environment: its site-packages is put
on sys.path without running its .pth files, so the checkout's editable install stays out of it
and only the wheel's own copy of the program can answer."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # builds the wheel and installs it in a new virtualenv

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ("pyproject.toml", "README.md", "bot", "handlers", "knowledge", "config")


def run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done.stdout


def test_the_wheel_installs_and_answers_from_another_folder(tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    for name in SOURCE:
        if (ROOT / name).is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
            shutil.copytree(ROOT / name, source / name, ignore=ignore)
        else:
            shutil.copy2(ROOT / name, source / name)
    wheels = tmp_path / "dist"
    run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
        "-w", wheels, source, cwd=source)  # fmt: skip
    [wheel] = wheels.glob("*.whl")

    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp_path)
    python = venv / "bin" / "python"
    purelib = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))",
                       cwd=tmp_path).strip())  # fmt: skip
    run(sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps", wheel,
        cwd=tmp_path)  # fmt: skip
    (purelib / "project_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ASSISTANT_", "PYTHON"))}
    env["HF_HUB_OFFLINE"] = "1"
    where = run(python, "-c", "import bot, knowledge; print(bot.__file__, knowledge.__file__)",
                cwd=elsewhere, env=env)  # fmt: skip
    assert all(path.startswith(str(purelib)) for path in where.split()), where
    out = run(venv / "bin" / "safeguarding-assistant", "ask", "--json", "what is an SCR",
              cwd=elsewhere, env=env)  # fmt: skip
    reply = json.loads(out.splitlines()[-1])
    assert reply["kind"] == "answer" and reply["id"] == "serious-case-review"
    assert not (elsewhere / "var").exists()  # `ask` keeps nothing
    checked = run(venv / "bin" / "safeguarding-assistant", "check", cwd=elsewhere, env=env)
    assert "valid" in checked
