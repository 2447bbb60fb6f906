"""Keyset pagination on time-ordered ids, for one parent or many parents in one query."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, aliased

from domain.errors import BadUserInput

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class PageRequest:
    """`first`/`after` walk forwards; `last`/`before` walk back from the end."""

    first: int | None = None
    after: uuid.UUID | None = None
    last: int | None = None
    before: uuid.UUID | None = None

    def validated(self, max_size: int, default_size: int) -> PageRequest:
        if self.first is not None and self.last is not None:
            raise BadUserInput("Pass either `first` or `last`, not both.", field="last")
        for name in ("first", "last"):
            value = getattr(self, name)
            if value is not None and not 0 <= value <= max_size:
                raise BadUserInput(f"`{name}` must be between 0 and {max_size}.", field=name)
        if self.first is None and self.last is None:
            return PageRequest(first=default_size, after=self.after, before=self.before)
        return self

    @property
    def backwards(self) -> bool:
        return self.last is not None

    @property
    def size(self) -> int:
        return self.last if self.last is not None else (self.first or 0)


@dataclass(slots=True)
class Page(Generic[T]):
    items: list[T] = field(default_factory=list)
    has_next_page: bool = False
    has_previous_page: bool = False


def _bounds(id_column: Any, request: PageRequest, descending: bool) -> list[ColumnElement[bool]]:
    # "after" means later in display order, which is smaller ids when the order is descending.
    conditions: list[ColumnElement[bool]] = []
    if request.after is not None:
        conditions.append(id_column < request.after if descending else id_column > request.after)
    if request.before is not None:
        conditions.append(id_column > request.before if descending else id_column < request.before)
    return conditions


def _to_page(rows: list[T], request: PageRequest) -> Page[T]:
    size = request.size
    more = len(rows) > size
    rows = rows[:size]
    if request.backwards:
        rows.reverse()
        return Page(rows, has_next_page=request.before is not None, has_previous_page=more)
    return Page(rows, has_next_page=more, has_previous_page=request.after is not None)


async def paginate(
    session: AsyncSession,
    stmt: Select[*tuple[Any, ...]],
    id_column: InstrumentedAttribute[uuid.UUID],
    request: PageRequest,
    *,
    descending: bool = False,
) -> Page[Any]:
    """One list: `stmt` selects the rows (a single entity or a tuple) of one parent."""
    walk_descending = descending != request.backwards
    order = id_column.desc() if walk_descending else id_column.asc()
    stmt = stmt.where(*_bounds(id_column, request, descending)).order_by(order)
    rows = list((await session.execute(stmt.limit(request.size + 1))).all())
    single = len(stmt.column_descriptions) == 1  # one entity or column, not its columns
    return _to_page([row[0] if single else row for row in rows], request)


async def paginate_per_parent(
    session: AsyncSession,
    entity: type[T],
    parent_column: InstrumentedAttribute[uuid.UUID],
    parent_ids: Sequence[uuid.UUID],
    request: PageRequest,
    *,
    where: Sequence[ColumnElement[bool]] = (),
    descending: bool = False,
) -> dict[uuid.UUID, Page[T]]:
    """One page per parent in a single query: a window numbers each parent's rows."""
    if not parent_ids:
        return {}
    id_column: Any = entity.id  # type: ignore[attr-defined]
    walk_descending = descending != request.backwards
    order = id_column.desc() if walk_descending else id_column.asc()
    row_number = func.row_number().over(partition_by=parent_column, order_by=order).label("rn")
    inner = (
        select(entity, row_number)
        .where(parent_column.in_(parent_ids), *where, *_bounds(id_column, request, descending))
        .subquery()
    )
    ranked: Any = aliased(entity, inner)
    stmt = select(ranked).where(inner.c.rn <= request.size + 1).order_by(inner.c.rn)
    grouped: dict[uuid.UUID, list[T]] = defaultdict(list)
    for row in (await session.scalars(stmt)).all():
        grouped[getattr(row, parent_column.key)].append(row)
    return {parent: _to_page(grouped.get(parent, []), request) for parent in parent_ids}
