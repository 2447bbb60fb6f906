"""Claiming and recording job runs in `job_runs`. Never commits: callers own the
transaction, and a claim must be committed on its own before the job runs, so that the
other replicas see it."""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from domain.db.base import new_id
from domain.jobs.models import JobOutcome, JobRun

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_ERROR_CHARS = 4000


def runner_name() -> str:
    """hostname:pid, the process that claimed a run."""
    return f"{socket.gethostname()}:{os.getpid()}"[:255]


def tick_of(now: datetime, interval: timedelta) -> datetime:
    """`now` truncated to the interval, counted from the Unix epoch: every replica firing
    for the same tick computes the same value, whatever its exact firing moment."""
    if interval <= timedelta(0):
        raise ValueError("a job interval must be positive")
    return EPOCH + ((now - EPOCH) // interval) * interval


async def claim_run(
    session: AsyncSession,
    job: str,
    scheduled_for: datetime,
    runner: str,
    *,
    started_at: datetime | None = None,
) -> bool:
    """Inserts the run unless a row for (job, scheduled_for) exists: True for exactly
    one caller per tick. On PostgreSQL a concurrent claimer waits for the first insert's
    transaction and then inserts nothing; SQLite has a single writer."""
    values = {
        "id": new_id(),
        "job": job,
        "scheduled_for": scheduled_for,
        "started_at": started_at or datetime.now(UTC),
        "outcome": JobOutcome.RUNNING,
        "runner": runner[:255],
    }
    dialect = session.get_bind().dialect.name
    statement: postgresql.Insert | sqlite.Insert
    if dialect == "postgresql":
        statement = (
            postgresql.insert(JobRun)
            .values(values)
            .on_conflict_do_nothing(index_elements=["job", "scheduled_for"])
        )
    elif dialect == "sqlite":
        statement = (
            sqlite.insert(JobRun)
            .values(values)
            .on_conflict_do_nothing(index_elements=["job", "scheduled_for"])
        )
    else:  # pragma: no cover - the two engines ragql supports
        raise RuntimeError(f"job claims are not implemented for {dialect}")
    result = await session.execute(statement)
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


async def finish_run(
    session: AsyncSession,
    job: str,
    scheduled_for: datetime,
    *,
    outcome: JobOutcome,
    duration_ms: int,
    error: str | None = None,
) -> bool:
    """Records how a claimed run ended; False when the run is not (or no longer) there."""
    result = await session.execute(
        update(JobRun)
        .where(JobRun.job == job, JobRun.scheduled_for == scheduled_for)
        .values(
            outcome=outcome,
            finished_at=datetime.now(UTC),
            duration_ms=max(0, duration_ms),
            error=None if error is None else error[:MAX_ERROR_CHARS],
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def prune_runs(session: AsyncSession, *, older_than: datetime) -> int:
    """Deletes the record of runs scheduled before `older_than`; returns how many."""
    result = await session.execute(delete(JobRun).where(JobRun.scheduled_for < older_than))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
