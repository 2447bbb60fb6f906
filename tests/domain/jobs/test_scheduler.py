"""The scheduler on real SQLite and PostgreSQL, with APScheduler really firing: each tick
runs once among several schedulers, outcomes are recorded, failures never stop it."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, select

from domain.jobs.models import JobOutcome, JobRun
from domain.jobs.scheduler import STOPPED, JobScheduler, JobSpec
from tests.domain.jobs.conftest import PATIENCE, Database

NOW = datetime(2026, 11, 24, 12, 0, 30, tzinfo=UTC)


@pytest.fixture
async def db(database: Database) -> Database:
    async with database.sessionmaker.begin() as session:
        await session.execute(delete(JobRun))
    return database


async def runs(db: Database, job: str | None = None) -> list[JobRun]:
    query = select(JobRun).order_by(JobRun.scheduled_for)
    if job is not None:
        query = query.where(JobRun.job == job)
    async with db.sessionmaker() as session:
        return list(await session.scalars(query))


async def recorded_ok(db: Database, job: str, count: int) -> None:
    ok = JobOutcome.OK
    while len([run for run in await runs(db, job) if run.outcome is ok]) < count:  # noqa: ASYNC110
        await asyncio.sleep(0.02)


async def test_a_tick_runs_once_and_its_outcome_is_recorded(db: Database) -> None:
    # given a scheduler with a job that reports what it did
    calls: list[str] = []

    async def work() -> dict[str, int]:
        calls.append("ran")
        return {"cleaned": 3}

    scheduler = JobScheduler(db.sessionmaker, [JobSpec("work", 60, work)], runner="host:1")

    # when the current tick is run, then run again within the same minute
    first = await scheduler.run_due_now("work", now=NOW)
    again = await scheduler.run_due_now("work", now=NOW + timedelta(seconds=20))

    # then it ran once, under the minute's key, and said so
    assert calls == ["ran"]
    assert first.claimed and first.outcome is JobOutcome.OK
    assert first.value == {"cleaned": 3}
    assert first.scheduled_for == datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    assert not again.claimed and again.outcome is None
    [run] = await runs(db)
    assert (run.job, run.scheduled_for, run.runner) == ("work", first.scheduled_for, "host:1")
    assert run.outcome is JobOutcome.OK and run.error is None
    assert run.finished_at is not None and run.finished_at >= run.started_at
    assert run.duration_ms is not None and run.duration_ms >= 0


async def test_a_failing_job_is_recorded_and_the_next_tick_still_runs(db: Database) -> None:
    # given a job that fails once, then works
    outcomes = iter([ValueError("the disk is on fire"), None])

    async def flaky() -> None:
        error = next(outcomes)
        if error is not None:
            raise error

    scheduler = JobScheduler(db.sessionmaker, [JobSpec("flaky", 60, flaky)])

    # when two ticks run
    failed = await scheduler.run_due_now("flaky", now=NOW)
    recovered = await scheduler.run_due_now("flaky", now=NOW + timedelta(minutes=1))

    # then the first is recorded as failed with its message, the second as ok
    assert failed.claimed and failed.outcome is JobOutcome.FAILED
    assert failed.error == "ValueError: the disk is on fire"
    assert recovered.outcome is JobOutcome.OK
    first, second = await runs(db)
    assert (first.outcome, first.error) == (JobOutcome.FAILED, "ValueError: the disk is on fire")
    assert first.duration_ms is not None and first.finished_at is not None
    assert (second.outcome, second.error) == (JobOutcome.OK, None)


async def test_of_three_replicas_one_runs_each_tick(db: Database) -> None:
    # given three schedulers (as in three replicas) sharing one job's side effect
    ran: list[str] = []

    def replica(name: str) -> JobScheduler:
        async def work() -> None:
            ran.append(name)
            await asyncio.sleep(0.05)  # still running while the others try

        return JobScheduler(db.sessionmaker, [JobSpec("shared", 10, work)], runner=name)

    replicas = [replica(f"replica-{i}:1") for i in range(3)]

    # when all three fire the same ticks, at slightly different moments
    for tick in range(3):
        base = NOW + timedelta(seconds=10 * tick)
        results = await asyncio.wait_for(
            asyncio.gather(
                *(
                    scheduler.run_due_now("shared", now=base + timedelta(milliseconds=7 * i))
                    for i, scheduler in enumerate(replicas)
                )
            ),
            PATIENCE,
        )
        # then exactly one claimed and ran it
        assert [r.claimed for r in results].count(True) == 1
    assert len(ran) == 3
    recorded = await runs(db, "shared")
    assert len(recorded) == 3
    assert all(run.outcome is JobOutcome.OK for run in recorded)
    assert [run.runner for run in recorded] == ran


async def test_apscheduler_in_three_replicas_runs_every_tick_once(db: Database) -> None:
    # given three started schedulers with a one-second job (and a failing one beside it)
    ticks: list[datetime] = []
    enough = asyncio.Event()

    async def work() -> None:
        ticks.append(datetime.now(UTC).replace(microsecond=0))
        if len(ticks) >= 3:
            enough.set()

    async def broken() -> None:
        raise RuntimeError("always broken")

    replicas = [
        JobScheduler(
            db.sessionmaker,
            [JobSpec("every-second", 1, work), JobSpec("broken", 1, broken)],
            runner=f"replica-{i}:1",
        )
        for i in range(3)
    ]
    for scheduler in replicas:
        scheduler.start()
    try:
        # when they have fired for a few ticks, and recorded them
        await asyncio.wait_for(enough.wait(), PATIENCE)
        await asyncio.wait_for(recorded_ok(db, "every-second", len(ticks)), PATIENCE)
    finally:
        for scheduler in replicas:
            await scheduler.shutdown()

    # then every tick ran exactly once among them, keyed on whole seconds
    recorded = await runs(db, "every-second")
    keys = [run.scheduled_for for run in recorded]
    assert len(keys) == len(set(keys)) >= 3
    assert all(key.microsecond == 0 for key in keys)
    assert len(recorded) == len(ticks)
    assert len([run for run in recorded if run.outcome is JobOutcome.OK]) >= 3
    # and the failing job was recorded each time without stopping anything
    failures = await runs(db, "broken")
    assert failures
    assert {(run.outcome, run.error) for run in failures if run.finished_at} == {
        (JobOutcome.FAILED, "RuntimeError: always broken")
    }
    assert max(Counter(run.scheduled_for for run in failures).values()) == 1


async def test_shutdown_stops_a_run_in_progress_and_records_it(db: Database) -> None:
    # given a started scheduler whose job is in the middle of a long run
    started = asyncio.Event()

    async def endless() -> None:
        started.set()
        await asyncio.Event().wait()

    scheduler = JobScheduler(db.sessionmaker, [JobSpec("endless", 1, endless)])
    scheduler.start()
    try:
        await asyncio.wait_for(started.wait(), PATIENCE)
    finally:
        # when the process shuts down
        await asyncio.wait_for(scheduler.shutdown(), PATIENCE)

    # then the run is recorded as failed, stopped by the shutdown
    [run] = await runs(db, "endless")
    assert (run.outcome, run.error) == (JobOutcome.FAILED, STOPPED)
    assert run.finished_at is not None
    assert not scheduler.started
    await scheduler.shutdown()  # a second shutdown is harmless


async def test_jobs_are_named_once_and_known() -> None:
    async def nothing() -> None:
        return None

    with pytest.raises(ValueError):
        JobScheduler(None, [JobSpec("a", 1, nothing), JobSpec("a", 2, nothing)])  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        JobScheduler(None, [JobSpec("a", 0, nothing)])  # type: ignore[arg-type]
    scheduler = JobScheduler(None, [JobSpec("a", 1, nothing)])  # type: ignore[arg-type]
    with pytest.raises(KeyError):
        await scheduler.run_due_now("b")
