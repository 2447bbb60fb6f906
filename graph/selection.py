"""A cheap look ahead at what an operation selects below the field being resolved."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import FieldNode, FragmentSpreadNode, InlineFragmentNode, SelectionSetNode

from graph.context import Info


def selects(info: Info, *path: str) -> bool:
    """Whether the selection below the current field reaches `path`, e.g. ("edges", "node").

    Follows fragments and inline fragments by field name (not alias) and ignores @skip and
    @include, so it may say yes for a field that ends up skipped but never no for one that
    is resolved: use it to load ahead, never to decide what is returned or allowed.
    """
    return bool(selected_fields(info, *path))


def selected_fields(info: Info, *path: str) -> list[FieldNode]:
    """The field nodes that `path` reaches below the current field (see `selects`)."""
    raw: Any = info._raw_info
    fragments = raw.fragments
    nodes: list[FieldNode] = list(raw.field_nodes)
    for name in path:
        nodes = [
            child
            for node in nodes
            for child in _fields(node.selection_set, fragments)
            if child.name.value == name
        ]
        if not nodes:
            break
    return nodes


def _fields(selection_set: SelectionSetNode | None, fragments: Any) -> Iterator[FieldNode]:
    # Validation has rejected fragment cycles and the depth limit bounds the nesting.
    if selection_set is None:
        return
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            yield selection
        elif isinstance(selection, InlineFragmentNode):
            yield from _fields(selection.selection_set, fragments)
        elif isinstance(selection, FragmentSpreadNode):
            fragment = fragments.get(selection.name.value)
            if fragment is not None:
                yield from _fields(fragment.selection_set, fragments)
