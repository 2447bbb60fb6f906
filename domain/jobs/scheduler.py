"""APScheduler 3 in every process; the database decides which process runs each tick.

Every job fires on the same wall-clock grid in every replica (multiples of its interval
since the Unix epoch, plus a small offset). A tick is first claimed in `job_runs` in a
transaction of its own; the replica whose insert wins runs the job, the others skip it.
The outcome, duration and error are then recorded in another short transaction. A job
that raises is recorded as failed and logged; it never stops the scheduler.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.jobs.models import JobOutcome
from domain.jobs.runs import EPOCH, claim_run, finish_run, runner_name, tick_of

logger = logging.getLogger(__name__)
STOPPED = "The process stopped while this job was running."


@dataclass(frozen=True, slots=True)
class JobSpec:
    """`run` opens its own sessions and must be safe to run twice; what it returns (a
    report, or None) is logged."""

    name: str
    interval_seconds: float
    run: Callable[[], Awaitable[object]]

    @property
    def interval(self) -> timedelta:
        return timedelta(seconds=self.interval_seconds)


@dataclass(frozen=True, slots=True)
class RunResult:
    """What one tick did here: `claimed` False means another process (or an earlier
    call) had the tick, and nothing ran."""

    job: str
    scheduled_for: datetime
    claimed: bool
    outcome: JobOutcome | None = None
    error: str | None = None
    value: object = None


class JobScheduler:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        jobs: list[JobSpec],
        *,
        runner: str | None = None,
    ) -> None:
        names = [job.name for job in jobs]
        if len(set(names)) != len(names):
            raise ValueError(f"job names must be unique: {names}")
        for job in jobs:
            if job.interval_seconds <= 0:
                raise ValueError(f"job {job.name} needs a positive interval")
        self._sessionmaker = sessionmaker
        self._jobs = {job.name: job for job in jobs}
        self.runner = runner or runner_name()
        self._scheduler: AsyncIOScheduler | None = None
        self._running: set[asyncio.Task[Any]] = set()

    @property
    def jobs(self) -> list[JobSpec]:
        return list(self._jobs.values())

    @property
    def started(self) -> bool:
        return self._scheduler is not None

    def start(self) -> None:
        """Schedules every job on the running event loop (call from the app lifespan)."""
        if self._scheduler is not None:
            return
        scheduler = AsyncIOScheduler(timezone=UTC)
        for job in self._jobs.values():
            scheduler.add_job(
                self._tick,
                trigger=_grid_trigger(job.interval),
                args=[job.name],
                id=job.name,
                name=job.name,
                max_instances=1,
                coalesce=True,
                # A tick fired late (a busy loop) still runs; its claim key is the same.
                misfire_grace_time=None,
            )
        # APScheduler logs every execution at INFO; job_runs records them, and failures
        # are logged here, so its executor only speaks up for warnings unless told.
        executor_log = logging.getLogger("apscheduler.executors.default")
        if executor_log.level == logging.NOTSET:
            executor_log.setLevel(logging.WARNING)
        scheduler.start()
        self._scheduler = scheduler
        logger.info("background jobs scheduled: %s", ", ".join(self._jobs) or "none")

    async def shutdown(self) -> None:
        """Stops scheduling, cancels runs in progress here (each records itself as
        failed) and waits for them, so nothing touches the database afterwards."""
        scheduler, self._scheduler = self._scheduler, None
        if scheduler is not None and scheduler.running:
            scheduler.shutdown(wait=False)
        running = list(self._running)
        for task in running:
            task.cancel()
        if running:
            await asyncio.wait(running)
        # AsyncIOScheduler shuts down on the next loop iteration; let it.
        await asyncio.sleep(0)

    async def run_due_now(self, job_name: str, *, now: datetime | None = None) -> RunResult:
        """Runs the current tick of `job_name` here, unless it was already claimed (by
        the scheduler of any replica, or an earlier call). For tests and admin tools."""
        job = self._jobs.get(job_name)
        if job is None:
            raise KeyError(f"no job named {job_name!r}")
        return await self._run_tick(job, tick_of(now or datetime.now(UTC), job.interval))

    async def _tick(self, job_name: str) -> object:
        """What APScheduler calls; never raises."""
        task = asyncio.current_task()
        if task is not None:
            self._running.add(task)
        try:
            return await self.run_due_now(job_name)
        except Exception:  # run_due_now records failures; this is a last resort
            logger.exception("job %s: tick failed", job_name)
            return None
        finally:
            if task is not None:
                self._running.discard(task)

    async def _run_tick(self, job: JobSpec, scheduled_for: datetime) -> RunResult:
        try:
            async with self._sessionmaker.begin() as session:
                claimed = await claim_run(session, job.name, scheduled_for, self.runner)
        except Exception:
            logger.exception("job %s: could not claim the run of %s", job.name, scheduled_for)
            return RunResult(job.name, scheduled_for, claimed=False)
        if not claimed:
            logger.debug("job %s: %s already claimed elsewhere", job.name, scheduled_for)
            return RunResult(job.name, scheduled_for, claimed=False)
        started = time.monotonic()
        try:
            value = await job.run()
        except asyncio.CancelledError:
            await asyncio.shield(
                self._finish(job, scheduled_for, started, JobOutcome.FAILED, STOPPED)
            )
            raise
        except Exception as error:
            logger.exception("job %s (%s) failed", job.name, scheduled_for)
            message = f"{type(error).__name__}: {error}"
            await self._finish(job, scheduled_for, started, JobOutcome.FAILED, message)
            return RunResult(job.name, scheduled_for, True, JobOutcome.FAILED, message)
        await self._finish(job, scheduled_for, started, JobOutcome.OK, None)
        if value is not None:
            logger.debug("job %s (%s): %s", job.name, scheduled_for, value)
        return RunResult(job.name, scheduled_for, True, JobOutcome.OK, None, value)

    async def _finish(
        self,
        job: JobSpec,
        scheduled_for: datetime,
        started: float,
        outcome: JobOutcome,
        error: str | None,
    ) -> None:
        duration_ms = round((time.monotonic() - started) * 1000)
        try:
            async with self._sessionmaker.begin() as session:
                await finish_run(
                    session,
                    job.name,
                    scheduled_for,
                    outcome=outcome,
                    duration_ms=duration_ms,
                    error=error,
                )
        except Exception:
            logger.exception("job %s: could not record the end of %s", job.name, scheduled_for)


def _grid_trigger(interval: timedelta) -> IntervalTrigger:
    """Fires at EPOCH + k * interval + offset in every process. The offset keeps a firing
    clear of the boundary, so truncating its moment to the interval (the claim key)
    always gives k, even with the scheduler's float arithmetic."""
    offset = min(timedelta(seconds=1), interval / 10)
    return IntervalTrigger(
        seconds=interval.total_seconds(), start_date=EPOCH + offset, timezone=UTC
    )
