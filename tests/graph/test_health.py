"""/healthz answers when the process is up; /readyz only when its dependencies answer."""

from __future__ import annotations

from pathlib import Path

import httpx

from domain.container import Container
from graph.app import create_app
from tests.conftest import Backend, make_settings
from tests.support.server import free_port, running_server


async def test_healthz_and_readyz_answer_on_a_working_server(backend: Backend) -> None:
    async with httpx.AsyncClient(base_url=f"http://{backend.address}") as http:
        health = await http.get("/healthz")
        ready = await http.get("/readyz")
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ready",
        "checks": {"database": True, "vectors": True, "bus": True},
    }


async def test_readyz_is_503_while_the_database_is_unreachable(tmp_path: Path) -> None:
    # given a server whose PostgreSQL does not answer (nothing listens on that port)
    url = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/nowhere"
    container = Container.build(make_settings(tmp_path, url))
    async with (
        running_server(create_app(container=container)) as address,
        httpx.AsyncClient(base_url=f"http://{address}") as http,
    ):
        # when the probes ask
        health = await http.get("/healthz")
        ready = await http.get("/readyz")
    await container.close()
    # then the process is alive but not ready
    assert health.status_code == 200
    assert ready.status_code == 503
    assert ready.json() == {
        "status": "unavailable",
        "checks": {"database": False, "vectors": True, "bus": True},
    }
