"""The deploy recipes: the systemd unit passes `systemd-analyze verify`, and the image builds
where a Docker engine is available. Both skip, saying why, on machines without the tool."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
UNIT = ROOT / "deploy" / "safeguarding-assistant.service"
# The unit points at the installed program, which is not there on a development machine.
NOT_INSTALLED = "/opt/safeguarding-assistant/.venv/bin/python is not executable"


def test_systemd_unit_verifies() -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed (Debian package: systemd)")
    result = subprocess.run(
        ["systemd-analyze", "verify", str(UNIT)], capture_output=True, text=True, timeout=60
    )
    problems = [
        line
        for line in (result.stdout + result.stderr).splitlines()
        if line.strip() and NOT_INSTALLED not in line
    ]
    assert not problems, "\n".join(problems)


def test_systemd_unit_is_hardened() -> None:
    unit = UNIT.read_text(encoding="utf-8")
    for line in (
        "User=assistant",
        "StateDirectory=safeguarding-assistant",
        "EnvironmentFile=/etc/safeguarding-assistant/env",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "CapabilityBoundingSet=\n",
        "main.py serve",
    ):
        assert line in unit, f"{line.strip()} missing from the unit"


def test_dockerfile_runs_as_a_user_with_a_health_check() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert "\nUSER assistant\n" in dockerfile
    assert 'VOLUME ["/app/var"]' in dockerfile
    assert "HEALTHCHECK" in dockerfile and "/healthz" in dockerfile
    assert '"safeguarding-assistant", "serve"' in dockerfile
    # The image installs the built wheel, not an editable tree.
    assert "AS build" in dockerfile and "pip install --compile /dist/*.whl" in dockerfile
    assert "-e ." not in dockerfile
    # What start-up derives from the knowledge is made at build, outside the var/ volume.
    assert "ENV ASSISTANT_CACHE_DIR=/app/cache" in dockerfile
    assert "/venv/bin/safeguarding-assistant check" in dockerfile


def docker_engine() -> bool:
    if shutil.which("docker") is None:
        return False
    info = subprocess.run(["docker", "info"], capture_output=True, timeout=60)
    return info.returncode == 0


@pytest.mark.slow  # builds the Docker image
def test_image_builds() -> None:
    if not docker_engine():
        pytest.skip("no Docker engine on this machine: the image build was not run")
    result = subprocess.run(
        ["docker", "build", "-q", "-t", "safeguarding-assistant:test", str(ROOT)],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert result.returncode == 0, result.stderr[-3000:]
