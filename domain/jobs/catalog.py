"""The background jobs every ragql process schedules (DESIGN section 7).

    recovery            expired ingestion leases back to PENDING; answers whose writing
                        process died settled FAILED, their subscribers told
    vector-maintenance  vectors of deleted documents removed; store compacted
    retention           old refresh tokens, files of deleted documents, old job runs

A job made of several steps runs them all even when one fails, then fails as a whole
(recorded in `job_runs`) naming the steps that failed.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.auth.retention import delete_old_refresh_tokens
from domain.chat.recovery import fail_abandoned_messages
from domain.documents.maintenance import (
    maintain_vectors,
    reclaim_expired_leases,
    remove_orphan_files,
)
from domain.email.drain import drain_job
from domain.email.outbox import prune_sent
from domain.events.port import EventBus
from domain.files.port import FileStore
from domain.jobs.runs import prune_runs
from domain.jobs.scheduler import JobSpec
from domain.settings import Settings
from domain.streams.port import MessageStreams
from domain.vectors.port import VectorStore

logger = logging.getLogger(__name__)

RECOVERY = "recovery"
VECTOR_MAINTENANCE = "vector-maintenance"
RETENTION = "retention"
EMAIL = "email-outbox"

Step = Callable[[], Awaitable[object]]


class JobStepsFailed(RuntimeError):
    """Some steps of a job failed (each was logged with its traceback)."""


def build_jobs(
    *,
    sessionmaker: async_sessionmaker[AsyncSession],
    vectors: VectorStore,
    files: FileStore,
    bus: EventBus,
    streams: MessageStreams,
    settings: Settings,
) -> list[JobSpec]:
    if settings.message_stale_seconds <= 2 * settings.message_heartbeat_seconds:
        raise ValueError(
            "MESSAGE_STALE_SECONDS must be more than twice MESSAGE_HEARTBEAT_SECONDS, or "
            "answers being written would be settled FAILED"
        )
    stale_after = timedelta(seconds=settings.message_stale_seconds)
    day = timedelta(days=1)

    async def recover_leases() -> object:
        return len(await reclaim_expired_leases(sessionmaker, bus))

    async def recover_messages() -> object:
        return len(await fail_abandoned_messages(sessionmaker, streams, stale_after=stale_after))

    async def maintain() -> object:
        return await maintain_vectors(sessionmaker, vectors)

    async def tokens() -> object:
        keep_for = day * settings.refresh_token_retention_days
        return await delete_old_refresh_tokens(sessionmaker, keep_for=keep_for)

    async def orphan_files() -> object:
        grace = timedelta(seconds=settings.orphan_file_grace_seconds)
        return await remove_orphan_files(sessionmaker, files, grace=grace)

    async def sent_mail() -> object:
        sent_before = datetime.now(UTC) - day * settings.job_run_retention_days
        async with sessionmaker.begin() as session:
            return await prune_sent(session, sent_before=sent_before)

    async def job_runs() -> object:
        older_than = datetime.now(UTC) - day * settings.job_run_retention_days
        async with sessionmaker.begin() as session:
            return await prune_runs(session, older_than=older_than)

    return [
        JobSpec(
            RECOVERY,
            settings.recovery_interval_seconds,
            steps({"leases_reclaimed": recover_leases, "answers_failed": recover_messages}),
        ),
        JobSpec(VECTOR_MAINTENANCE, settings.vector_maintenance_interval_seconds, maintain),
        JobSpec(EMAIL, settings.email_drain_interval_seconds, drain_job(sessionmaker, settings)),
        JobSpec(
            RETENTION,
            settings.retention_interval_seconds,
            steps(
                {
                    "refresh_tokens": tokens,
                    "orphan_files": orphan_files,
                    "sent_mail": sent_mail,
                    "job_runs": job_runs,
                }
            ),
        ),
    ]


def steps(named: dict[str, Step]) -> Callable[[], Awaitable[dict[str, object]]]:
    """One job running every step in order; each step's result is reported by name."""

    async def run() -> dict[str, object]:
        results: dict[str, object] = {}
        failed: list[str] = []
        for name, step in named.items():
            try:
                results[name] = await step()
            except Exception as error:
                logger.exception("job step %s failed", name)
                failed.append(f"{name}: {type(error).__name__}: {error}")
        if failed:
            raise JobStepsFailed("; ".join(failed))
        return results

    return run
