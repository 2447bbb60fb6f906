"""Relay-style connections with opaque cursors over time-ordered ids."""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Callable
from typing import Annotated, Generic, TypeVar

import strawberry

from domain.errors import BadUserInput
from domain.pagination import Page, PageRequest

T = TypeVar("T")
M = TypeVar("M")
_PREFIX = "c1:"

First = Annotated[int | None, strawberry.argument(description="Return at most this many items.")]
After = Annotated[str | None, strawberry.argument(description="Return items after this cursor.")]
Last = Annotated[
    int | None, strawberry.argument(description="Return at most this many items from the end.")
]
Before = Annotated[str | None, strawberry.argument(description="Return items before this cursor.")]


@strawberry.type(description="Where a page sits in the whole list.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="More items follow this page.")
    has_previous_page: bool = strawberry.field(description="Items precede this page.")
    start_cursor: str | None = strawberry.field(description="Cursor of the first edge.")
    end_cursor: str | None = strawberry.field(description="Cursor of the last edge.")


@strawberry.type(description="One item of a connection and its cursor.")
class Edge(Generic[T]):
    cursor: str = strawberry.field(description="Opaque position of this item, for paging.")
    node: T = strawberry.field(description="The item.")


@strawberry.type(description="A page of a list, Relay style.")
class Connection(Generic[T]):
    edges: list[Edge[T]] = strawberry.field(description="The items of this page, in order.")
    page_info: PageInfo = strawberry.field(description="Paging information.")

    @classmethod
    def from_page(
        cls, page: Page[M], to_node: Callable[[M], T], key: Callable[[M], uuid.UUID]
    ) -> Connection[T]:
        edges = [Edge(cursor=encode_cursor(key(item)), node=to_node(item)) for item in page.items]
        return cls(
            edges=edges,
            page_info=PageInfo(
                has_next_page=page.has_next_page,
                has_previous_page=page.has_previous_page,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else None,
            ),
        )


def encode_cursor(item_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(f"{_PREFIX}{item_id.hex}".encode()).decode()


def decode_cursor(cursor: str | None, field: str) -> uuid.UUID | None:
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor.encode()).decode()
        if not raw.startswith(_PREFIX):
            raise ValueError(raw)
        return uuid.UUID(hex=raw[len(_PREFIX) :])
    except (ValueError, binascii.Error, UnicodeError) as error:
        raise BadUserInput("Invalid cursor.", field=field) from error


def page_request(
    info_settings_max: int,
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
    default_size: int = 20,
) -> PageRequest:
    return PageRequest(
        first=first,
        after=decode_cursor(after, "after"),
        last=last,
        before=decode_cursor(before, "before"),
    ).validated(max_size=info_settings_max, default_size=min(default_size, info_settings_max))
