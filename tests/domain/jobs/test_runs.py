"""Run claims in `job_runs`, on real SQLite and PostgreSQL: one claim per tick however
many claimers race, and the same tick key from every replica."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, select

from domain.jobs.models import JobOutcome, JobRun
from domain.jobs.runs import claim_run, finish_run, prune_runs, runner_name, tick_of
from tests.domain.jobs.conftest import PATIENCE, Database

TICK = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@pytest.fixture
async def db(database: Database) -> Database:
    async with database.sessionmaker.begin() as session:
        await session.execute(delete(JobRun))
    return database


async def claim(db: Database, job: str, at: datetime, runner: str) -> bool:
    async with db.sessionmaker.begin() as session:
        return await claim_run(session, job, at, runner)


async def runs(db: Database) -> list[JobRun]:
    async with db.sessionmaker() as session:
        return list(await session.scalars(select(JobRun).order_by(JobRun.scheduled_for)))


def test_replicas_firing_at_slightly_different_moments_agree_on_the_tick() -> None:
    minute = timedelta(minutes=1)
    boundary = datetime(2026, 11, 24, 12, 7, tzinfo=UTC)
    moments = [boundary, boundary + timedelta(microseconds=1), boundary + timedelta(seconds=59)]
    assert {tick_of(moment, minute) for moment in moments} == {boundary}
    assert tick_of(boundary - timedelta(microseconds=1), minute) == boundary - minute
    # an interval that does not divide an hour still tiles time from the epoch
    seven = timedelta(seconds=7)
    for moment in moments:
        tick = tick_of(moment, seven)
        assert tick <= moment < tick + seven
        assert (tick - datetime(1970, 1, 1, tzinfo=UTC)) % seven == timedelta(0)
    with pytest.raises(ValueError):
        tick_of(boundary, timedelta(0))


def test_the_runner_is_host_and_process() -> None:
    host, pid = runner_name().rsplit(":", 1)
    assert host and pid.isdigit()


async def test_a_tick_is_claimed_once_and_other_ticks_and_jobs_are_free(db: Database) -> None:
    # given a claimed tick
    assert await claim(db, "recovery", TICK, "a:1") is True

    # then claiming it again, from anywhere, fails
    assert await claim(db, "recovery", TICK, "b:2") is False
    assert await claim(db, "recovery", TICK, "a:1") is False
    # and the next tick, or another job at the same tick, can be claimed
    assert await claim(db, "recovery", TICK + timedelta(seconds=10), "b:2") is True
    assert await claim(db, "retention", TICK, "b:2") is True

    [first, *_] = await runs(db)
    assert (first.job, first.scheduled_for, first.runner) == ("recovery", TICK, "a:1")
    assert first.outcome is JobOutcome.RUNNING
    assert first.finished_at is None and first.duration_ms is None


async def test_three_concurrent_claimers_yield_exactly_one_winner(db: Database) -> None:
    # given three replicas racing for the same ticks, each in its own session
    for round_ in range(5):
        at = TICK + timedelta(minutes=round_)
        results = await asyncio.wait_for(
            asyncio.gather(*(claim(db, "race", at, f"replica-{i}:1") for i in range(3))),
            PATIENCE,
        )
        # then exactly one of them won each tick
        assert sorted(results) == [False, False, True]
    assert len(await runs(db)) == 5


async def test_finishing_records_outcome_duration_and_error(db: Database) -> None:
    # given two claimed runs
    assert await claim(db, "ok-job", TICK, "a:1")
    assert await claim(db, "bad-job", TICK, "a:1")

    # when one ends well and the other with an error far longer than is kept
    async with db.sessionmaker.begin() as session:
        await finish_run(session, "ok-job", TICK, outcome=JobOutcome.OK, duration_ms=42)
        await finish_run(
            session,
            "bad-job",
            TICK,
            outcome=JobOutcome.FAILED,
            duration_ms=7,
            error="RuntimeError: " + "x" * 10_000,
        )
        missing = await finish_run(
            session, "never-claimed", TICK, outcome=JobOutcome.OK, duration_ms=1
        )

    # then both rows say how they ended
    found = {run.job: run for run in await runs(db)}
    assert (found["ok-job"].outcome, found["ok-job"].duration_ms) == (JobOutcome.OK, 42)
    assert found["ok-job"].error is None
    assert found["ok-job"].finished_at is not None
    bad = found["bad-job"]
    assert (bad.outcome, bad.duration_ms) == (JobOutcome.FAILED, 7)
    assert bad.error is not None and bad.error.startswith("RuntimeError: xxx")
    assert len(bad.error) < 10_000
    # and a run nobody claimed is not invented
    assert missing is False
    assert "never-claimed" not in found


async def test_old_runs_are_pruned(db: Database) -> None:
    for days in (30, 8, 1):
        assert await claim(db, "recovery", TICK - timedelta(days=days), "a:1")
    async with db.sessionmaker.begin() as session:
        assert await prune_runs(session, older_than=TICK - timedelta(days=7)) == 2
    assert [run.scheduled_for for run in await runs(db)] == [TICK - timedelta(days=1)]
    async with db.sessionmaker.begin() as session:
        assert await prune_runs(session, older_than=TICK - timedelta(days=7)) == 0
