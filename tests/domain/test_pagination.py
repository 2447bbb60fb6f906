"""Keyset pagination: the page request rules, and paging real rows on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from domain.db.base import new_id
from domain.errors import BadUserInput
from domain.pagination import PageRequest, paginate, paginate_per_parent
from domain.users.models import User
from domain.workspaces.models import Workspace, WorkspaceMember, WorkspaceRole
from tests.conftest import Backend

# PageRequest.validated


def test_without_first_or_last_the_default_size_walks_forwards() -> None:
    # given
    after = uuid.uuid4()

    # when
    request = PageRequest(after=after).validated(max_size=100, default_size=20)

    # then
    assert request == PageRequest(first=20, after=after)
    assert (request.size, request.backwards) == (20, False)


def test_last_walks_backwards() -> None:
    # when
    request = PageRequest(last=7).validated(max_size=100, default_size=20)

    # then
    assert (request.size, request.backwards) == (7, True)


@pytest.mark.parametrize("size", [0, 1, 100])
@pytest.mark.parametrize("name", ["first", "last"])
def test_sizes_from_0_to_the_maximum_are_accepted(name: str, size: int) -> None:
    # when
    request = PageRequest(**{name: size}).validated(max_size=100, default_size=20)

    # then
    assert request.size == size


@pytest.mark.parametrize("size", [-1, 101, 10**9])
@pytest.mark.parametrize("name", ["first", "last"])
def test_sizes_outside_the_bounds_name_their_argument(name: str, size: int) -> None:
    # when
    with pytest.raises(BadUserInput) as raised:
        PageRequest(**{name: size}).validated(max_size=100, default_size=20)

    # then
    assert raised.value.field == name
    assert raised.value.message == f"`{name}` must be between 0 and 100."


def test_first_and_last_together_are_refused() -> None:
    # when
    with pytest.raises(BadUserInput) as raised:
        PageRequest(first=1, last=1).validated(max_size=100, default_size=20)

    # then
    assert raised.value.field == "last"


def test_requests_are_hashable_so_loaders_can_group_by_them() -> None:
    # given
    after = uuid.uuid4()

    # then
    assert len({PageRequest(first=5, after=after), PageRequest(first=5, after=after)}) == 1


# Paging real rows


@dataclass
class Rows:
    """Workspaces (ids ascending = creation order), each with a list of members."""

    workspace_ids: list[uuid.UUID]
    members: dict[uuid.UUID, list[uuid.UUID]]  # workspace id -> membership ids, oldest first


async def insert_rows(backend: Backend, member_counts: list[int]) -> Rows:
    """One workspace per entry of `member_counts`, with that many members each."""
    users = [
        User(
            email=f"page-{uuid.uuid4().hex[:12]}@example.com",
            display_name="pager",
            password_hash="not-a-real-hash",
        )
        for _ in range(max(member_counts, default=0))
    ]
    workspaces = [Workspace(id=new_id(), name=f"ws {n}") for n in range(len(member_counts))]
    members: dict[uuid.UUID, list[uuid.UUID]] = {}
    async with backend.container.sessionmaker.begin() as session:
        session.add_all(users)
        session.add_all(workspaces)
        await session.flush()
        for workspace, count in zip(workspaces, member_counts, strict=True):
            rows = [
                WorkspaceMember(
                    id=new_id(),
                    workspace_id=workspace.id,
                    user_id=user.id,
                    role=WorkspaceRole.VIEWER,
                )
                for user in users[:count]
            ]
            session.add_all(rows)
            members[workspace.id] = [row.id for row in rows]
    return Rows([w.id for w in workspaces], members)


def workspaces_in(ids: list[uuid.UUID]) -> Any:
    return select(Workspace).where(Workspace.id.in_(ids))


async def page_of_workspaces(
    backend: Backend, ids: list[uuid.UUID], request: PageRequest, *, descending: bool = False
) -> tuple[list[uuid.UUID], bool, bool]:
    async with backend.container.sessionmaker() as session:
        page = await paginate(
            session, workspaces_in(ids), Workspace.id, request, descending=descending
        )
    return [w.id for w in page.items], page.has_previous_page, page.has_next_page


async def test_paginate_walks_forwards_without_gaps_or_repeats(backend: Backend) -> None:
    # given
    ids = (await insert_rows(backend, [0] * 7)).workspace_ids

    # when
    one = await page_of_workspaces(backend, ids, PageRequest(first=3))
    two = await page_of_workspaces(backend, ids, PageRequest(first=3, after=one[0][-1]))
    three = await page_of_workspaces(backend, ids, PageRequest(first=3, after=two[0][-1]))

    # then
    assert one == (ids[0:3], False, True)
    assert two == (ids[3:6], True, True)
    assert three == (ids[6:7], True, False)


async def test_paginate_walks_backwards_keeping_pages_in_order(backend: Backend) -> None:
    # given
    ids = (await insert_rows(backend, [0] * 5)).workspace_ids

    # when
    one = await page_of_workspaces(backend, ids, PageRequest(last=2))
    two = await page_of_workspaces(backend, ids, PageRequest(last=2, before=one[0][0]))
    three = await page_of_workspaces(backend, ids, PageRequest(last=2, before=two[0][0]))

    # then
    assert one == (ids[3:5], True, False)
    assert two == (ids[1:3], True, True)
    assert three == (ids[0:1], False, True)


async def test_paginate_in_descending_order(backend: Backend) -> None:
    # given
    ids = (await insert_rows(backend, [0] * 5)).workspace_ids
    newest_first = ids[::-1]

    # when
    one = await page_of_workspaces(backend, ids, PageRequest(first=2), descending=True)
    two = await page_of_workspaces(
        backend, ids, PageRequest(first=2, after=one[0][-1]), descending=True
    )
    back = await page_of_workspaces(
        backend, ids, PageRequest(last=2, before=two[0][0]), descending=True
    )

    # then
    assert one == (newest_first[0:2], False, True)
    assert two == (newest_first[2:4], True, True)
    assert back == (newest_first[0:2], False, True)


async def test_paginate_between_after_and_before(backend: Backend) -> None:
    # given
    ids = (await insert_rows(backend, [0] * 6)).workspace_ids

    # when
    page = await page_of_workspaces(
        backend, ids, PageRequest(first=10, after=ids[0], before=ids[4])
    )

    # then
    assert page[0] == ids[1:4]


async def test_paginate_size_0_reports_whether_rows_follow(backend: Backend) -> None:
    # given
    ids = (await insert_rows(backend, [0] * 2)).workspace_ids

    # when
    some = await page_of_workspaces(backend, ids, PageRequest(first=0))
    none = await page_of_workspaces(backend, ids, PageRequest(first=0, after=ids[-1]))

    # then
    assert some == ([], False, True)
    assert none == ([], True, False)


async def test_paginate_returns_tuples_for_multi_column_selects(backend: Backend) -> None:
    # given
    rows = await insert_rows(backend, [1, 1])
    stmt = (
        select(Workspace, WorkspaceMember.role)
        .join(WorkspaceMember, WorkspaceMember.workspace_id == Workspace.id)
        .where(Workspace.id.in_(rows.workspace_ids))
    )

    # when
    async with backend.container.sessionmaker() as session:
        page = await paginate(session, stmt, Workspace.id, PageRequest(first=5))

    # then
    assert [(w.id, role) for w, role in page.items] == [
        (workspace_id, WorkspaceRole.VIEWER) for workspace_id in rows.workspace_ids
    ]


async def pages_of_members(
    backend: Backend,
    parents: list[uuid.UUID],
    request: PageRequest,
    *,
    descending: bool = False,
) -> dict[uuid.UUID, tuple[list[uuid.UUID], bool, bool]]:
    async with backend.container.sessionmaker() as session:
        pages = await paginate_per_parent(
            session,
            WorkspaceMember,
            WorkspaceMember.workspace_id,
            parents,
            request,
            descending=descending,
        )
    return {
        parent: ([m.id for m in page.items], page.has_previous_page, page.has_next_page)
        for parent, page in pages.items()
    }


async def test_each_parent_gets_its_own_page_from_one_query(backend: Backend) -> None:
    # given: parents with 0, 1, 3 and 5 children
    rows = await insert_rows(backend, [0, 1, 3, 5])
    empty, one, three, five = rows.workspace_ids

    # when
    pages = await pages_of_members(backend, rows.workspace_ids, PageRequest(first=3))

    # then
    assert pages == {
        empty: ([], False, False),
        one: (rows.members[one], False, False),
        three: (rows.members[three], False, False),
        five: (rows.members[five][:3], False, True),
    }


async def test_per_parent_paging_continues_after_a_cursor(backend: Backend) -> None:
    # given
    rows = await insert_rows(backend, [5])
    [parent] = rows.workspace_ids
    children = rows.members[parent]

    # when
    pages = await pages_of_members(backend, [parent], PageRequest(first=2, after=children[1]))

    # then
    assert pages == {parent: (children[2:4], True, True)}


async def test_per_parent_paging_backwards_and_descending(backend: Backend) -> None:
    # given
    rows = await insert_rows(backend, [4])
    [parent] = rows.workspace_ids
    children = rows.members[parent]

    # when
    last_two = await pages_of_members(backend, [parent], PageRequest(last=2))
    newest_first = await pages_of_members(backend, [parent], PageRequest(first=3), descending=True)

    # then
    assert last_two == {parent: (children[2:4], True, False)}
    assert newest_first == {parent: (children[::-1][:3], False, True)}


async def test_per_parent_size_0_reports_whether_rows_follow(backend: Backend) -> None:
    # given
    rows = await insert_rows(backend, [0, 2])
    empty, full = rows.workspace_ids

    # when
    forwards = await pages_of_members(backend, rows.workspace_ids, PageRequest(first=0))
    backwards = await pages_of_members(backend, rows.workspace_ids, PageRequest(last=0))

    # then: like `paginate`, an empty page still says whether there is more
    assert forwards == {empty: ([], False, False), full: ([], False, True)}
    assert backwards == {empty: ([], False, False), full: ([], True, False)}


async def test_per_parent_paging_of_no_parents_is_empty(backend: Backend) -> None:
    # when
    pages = await pages_of_members(backend, [], PageRequest(first=3))

    # then
    assert pages == {}


async def test_per_parent_extra_conditions_filter_rows(backend: Backend) -> None:
    # given: one member of three is promoted
    rows = await insert_rows(backend, [3])
    [parent] = rows.workspace_ids
    promoted = rows.members[parent][1]
    async with backend.container.sessionmaker.begin() as session:
        member = await session.get(WorkspaceMember, promoted)
        assert member is not None
        member.role = WorkspaceRole.EDITOR

    # when
    async with backend.container.sessionmaker() as session:
        pages = await paginate_per_parent(
            session,
            WorkspaceMember,
            WorkspaceMember.workspace_id,
            [parent],
            PageRequest(first=5),
            where=[WorkspaceMember.role == WorkspaceRole.EDITOR],
        )

    # then
    assert [m.id for m in pages[parent].items] == [promoted]
