"""/readyz on PostgreSQL: ready while the server answers, not ready while it is stopped, and
ready again once it is back, without restarting the assistant. The server is a throw-away
cluster of this test's own, since the test stops it."""

from __future__ import annotations

import asyncio
import dataclasses
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from config.settings import Settings, default_settings
from tests.postgres_support import NO_SERVER, Cluster, unavailable
from tests.test_web import Served, served  # noqa: F401 (the fixture, on these settings)

pytestmark = pytest.mark.slow  # stops and starts the PostgreSQL server


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    try:
        cluster = Cluster()
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        unavailable(f"{NO_SERVER} ({exc})")
        raise
    yield cluster
    cluster.destroy()


@pytest.fixture
def settings(tmp_path: Path, cluster: Cluster) -> Settings:
    base = default_settings()
    return dataclasses.replace(
        base,
        database=cluster.url,
        mail=dataclasses.replace(base.mail, outbox_dir=str(tmp_path / "outbox")),
    )


async def readiness(http_side: Served, wanted: int) -> dict[str, object]:
    """Ask /readyz until it answers `wanted` (a probe may still be waiting on the old state)."""
    for _ in range(100):
        response = await http_side.http.get("/readyz")
        if response.status_code == wanted:
            report: dict[str, object] = response.json()
            return report
        await asyncio.sleep(0.1)
    raise AssertionError(f"/readyz never answered {wanted}")


async def test_readiness_follows_the_postgresql_server(
    served: Served,  # noqa: F811
    cluster: Cluster,
) -> None:
    assert (await readiness(served, 200))["database"] == "ok"
    await asyncio.to_thread(cluster.stop)
    stopped = await readiness(served, 503)
    assert stopped["ready"] is False and stopped["database"] != "ok"
    await asyncio.to_thread(cluster.start)
    back = await readiness(served, 200)
    assert back["ready"] is True and back["database"] == "ok"
