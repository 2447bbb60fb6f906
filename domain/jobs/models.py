"""One row per run of a scheduled job: the claim that makes it run once among replicas,
and the record of when it ran, for how long and how it ended."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Enum, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from domain.db.base import Base, IdMixin, UTCDateTime


class JobOutcome(StrEnum):
    RUNNING = "running"
    OK = "ok"
    FAILED = "failed"


class JobRun(IdMixin, Base):
    __tablename__ = "job_runs"
    __table_args__ = (
        # The claim: of all replicas firing the same tick, one insert wins. Also serves
        # "the latest runs of a job" (job, scheduled_for DESC).
        UniqueConstraint("job", "scheduled_for"),
        # The retention job deletes old runs by age.
        Index("ix_job_runs_scheduled_for_retention", "scheduled_for"),
    )

    job: Mapped[str] = mapped_column(String(100), nullable=False)
    # The tick, truncated to the job's interval: every replica computes the same value.
    scheduled_for: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    duration_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    outcome: Mapped[JobOutcome] = mapped_column(
        Enum(
            JobOutcome,
            native_enum=False,
            length=16,
            create_constraint=True,
            name="job_outcome",
            values_callable=lambda outcomes: [outcome.value for outcome in outcomes],
        ),
        nullable=False,
    )
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # hostname:pid of the process that ran it.
    runner: Mapped[str] = mapped_column(String(255), nullable=False)
