"""Real `ragql serve` processes sharing PostgreSQL, Redis, a data directory and a model."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support.server import free_port

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Replica:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)


@dataclass
class Cluster:
    environment: dict[str, str]
    logs: Path
    replicas: list[Replica] = field(default_factory=list)

    def start(self, name: str) -> Replica:
        port = free_port()
        log = self.logs / f"{name}.log"
        process = subprocess.Popen(
            [sys.executable, "-m", "graph.cli", "serve", "--port", str(port)],
            env=self.environment,
            cwd=str(ROOT),
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        replica = Replica(name, port, process, log)
        self.replicas.append(replica)
        wait_ready(replica)
        return replica

    def stop(self) -> None:
        for replica in self.replicas:
            replica.stop()


def wait_ready(replica: Replica, guard_seconds: float = 120) -> None:
    deadline = time.monotonic() + guard_seconds
    while True:
        if replica.process.poll() is not None:
            raise AssertionError(f"{replica.name} exited:\n{replica.log.read_text()[-3000:]}")
        try:
            if httpx.get(f"http://{replica.address}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{replica.name} never became ready")
        time.sleep(0.2)


def cluster_environment(
    *, data_dir: Path, database_url: str, redis_prefix: str, model_url: str
) -> dict[str, str]:
    environment = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE_", "JWT_", "ENV", "REDIS_", "OPENAI_"))
    }
    environment.update(
        PYTHONPATH=str(ROOT),
        ENV="production",
        JWT_SECRET="replicas-share-this-secret-0123456789abcdef",
        DATA_DIR=str(data_dir),
        DATABASE_URL=database_url,
        REDIS_URL="redis://127.0.0.1:6379/0",
        REDIS_PREFIX=redis_prefix,
        OPENAI_BASE_URL=model_url,
        OPENAI_API_KEY="sk-test",
        CHAT_MODEL="fake-model",
        EMBEDDER="wordllama",
        ARGON2_MEMORY_KIB="1024",
        ARGON2_TIME_COST="1",
        ENABLE_BACKGROUND_JOBS="true",
        INGESTION_LEASE_SECONDS="3",
        MESSAGE_HEARTBEAT_SECONDS="1",
        MESSAGE_STALE_SECONDS="4",
        RECOVERY_INTERVAL_SECONDS="1",
        LANCEDB_READ_CONSISTENCY_SECONDS="0",
        LOG_LEVEL="WARNING",
    )
    return environment
