"""Alembic environment: runs on the connection `domain.db.migrate` hands over."""

from __future__ import annotations

from alembic import context

from domain.db.models import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `ragql migrate` (it provides the connection)")

# Batch mode lets ALTER work on SQLite, which rebuilds tables; it is a no-op on PostgreSQL.
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=True,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
