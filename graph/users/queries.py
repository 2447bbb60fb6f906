"""Queries about the signed-in user."""

from __future__ import annotations

import strawberry

from graph.context import Info
from graph.users.types import User


@strawberry.type
class UserQueries:
    @strawberry.field(description="The signed-in user, or null when not signed in.")
    async def viewer(self, info: Info) -> User | None:
        viewer_id = info.context.viewer_id_or_none
        if viewer_id is None:
            return None
        user = await info.context.loaders.user_by_id.load(viewer_id)
        return User.from_model(user) if user else None
