"""The executor class: strawberry's, with the field plan of a subscription kept across events.

graphql-core runs a subscription's selection set once per event on a shallow copy of
the subscription's executor. Each copy collects the root fields again, and since the
memo of sub-selections is keyed on the identity of the collected field lists, every
event missed it: the sub-selections were collected anew (about a third of the CPU of a
`messageStream` frame), and the memo, shared by the copies, gained an entry per event
for as long as the subscription lived (hours, for `documentEvents`). The root fields of
one subscription depend only on its document and variables, which never change between
its events, so the first event's collection serves all of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from graphql import GraphQLObjectType, OperationType
from graphql.execution.collect_fields import DeferUsage, GroupedFieldSet
from graphql.pyutils import AwaitableOrValue
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext


class RagqlExecutionContext(StrawberryGraphQLCoreExecutionContext):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Shared with the per-event copies (graphql-core copies the executor shallowly).
        self.root_fields_of_events: list[GroupedFieldSet] = []

    def execute_collected_root_fields(
        self,
        root_type: GraphQLObjectType,
        root_value: Any,
        grouped_field_set: GroupedFieldSet,
        serially: bool,
        new_defer_usages: Sequence[DeferUsage],
    ) -> AwaitableOrValue[dict[str, Any]]:
        if self.operation.operation is OperationType.SUBSCRIPTION:
            if not self.root_fields_of_events:
                self.root_fields_of_events.append(grouped_field_set)
            grouped_field_set = self.root_fields_of_events[0]
        return super().execute_collected_root_fields(
            root_type, root_value, grouped_field_set, serially, new_defer_usages
        )
