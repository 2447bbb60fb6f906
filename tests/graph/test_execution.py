"""The executor keeps a subscription's field plan across its events, and answers the same."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import graphql.execution.executor as graphql_executor
import pytest
import strawberry

from graph.execution import RagqlExecutionContext

EVENTS = 50

SUBSCRIPTION = """
subscription Ticks($withNote: Boolean!) {
  ticks {
    n
    again: n
    ...TickParts
    note @include(if: $withNote)
    owner { name }
  }
}
fragment TickParts on Tick { label }
"""


@strawberry.type
class Owner:
    name: str


@strawberry.type
class Tick:
    n: int
    label: str
    note: str
    owner: Owner


@strawberry.type
class Query:
    ping: bool = True


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def ticks(self) -> AsyncGenerator[Tick, None]:
        for n in range(EVENTS):
            yield Tick(n=n, label=f"tick {n}", note="hello", owner=Owner(name=f"owner {n}"))


def expected(n: int, *, with_note: bool) -> dict[str, Any]:
    tick: dict[str, Any] = {"n": n, "again": n, "label": f"tick {n}"}
    if with_note:
        tick["note"] = "hello"
    tick["owner"] = {"name": f"owner {n}"}
    return {"ticks": tick}


async def events(with_note: bool) -> list[dict[str, Any] | None]:
    schema = strawberry.Schema(
        query=Query, subscription=Subscription, execution_context_class=RagqlExecutionContext
    )
    stream = await schema.subscribe(SUBSCRIPTION, variable_values={"withNote": with_note})
    assert not isinstance(stream, strawberry.types.ExecutionResult)
    results = []
    async for result in stream:
        assert result.errors is None
        results.append(result.data)
    return results


@pytest.mark.parametrize("with_note", [True, False])
async def test_every_event_is_answered_as_its_selection_says(with_note: bool) -> None:
    # given a subscription with an alias, a fragment, a directive and a nested object
    # when it runs for fifty events
    results = await events(with_note)

    # then every event carries exactly the selected fields, in order
    assert results == [expected(n, with_note=with_note) for n in range(EVENTS)]


async def test_the_sub_selections_are_collected_once_per_subscription(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given graphql-core's sub-selection collection, counted
    collected: list[str] = []
    collect = graphql_executor.collect_subfields

    def counting(*args: Any, **kwargs: Any) -> Any:
        collected.append(args[4].name)  # the object type whose selection is collected
        return collect(*args, **kwargs)

    monkeypatch.setattr(graphql_executor, "collect_subfields", counting)

    # when a subscription runs for fifty events
    await events(with_note=True)

    # then each object type's selection was collected once, not once per event
    assert sorted(collected) == ["Owner", "Tick"]
