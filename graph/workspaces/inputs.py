"""Inputs of the workspace mutations."""

from __future__ import annotations

import strawberry

from domain.workspaces.service import UNSET as KEEP
from domain.workspaces.service import WorkspaceChanges


@strawberry.input(description="A new workspace.")
class CreateWorkspaceInput:
    name: str = strawberry.field(description="Display name, 1 to 100 characters.")


@strawberry.input(description="Settings to change; omitted fields stay as they are.")
class UpdateWorkspaceInput:
    name: str | None = strawberry.field(
        default=strawberry.UNSET, description="Display name, 1 to 100 characters."
    )
    system_prompt: str | None = strawberry.field(
        default=strawberry.UNSET, description="Instructions for the model; null clears them."
    )
    top_k: int | None = strawberry.field(
        default=strawberry.UNSET, description="Passages handed to the model, 1 to 50."
    )
    similarity_threshold: float | None = strawberry.field(
        default=strawberry.UNSET, description="Minimum passage score, 0 to 1."
    )
    chat_model: str | None = strawberry.field(
        default=strawberry.UNSET, description="Model for answers; null uses the server default."
    )
    temperature: float | None = strawberry.field(
        default=strawberry.UNSET, description="Sampling temperature 0 to 2; null for default."
    )

    max_tokens: int | None = strawberry.field(
        default=strawberry.UNSET, description="Longest answer in tokens; null for default."
    )
    query_only: bool | None = strawberry.field(
        default=strawberry.UNSET,
        description="Answer only from documents; with nothing relevant, reply with "
        "refusalText without calling the model.",
    )
    refusal_text: str | None = strawberry.field(
        default=strawberry.UNSET, description="Reply in query-only mode when nothing matches."
    )

    def to_changes(self) -> WorkspaceChanges:
        def keep(value: object) -> object:
            return KEEP if value is strawberry.UNSET else value

        return WorkspaceChanges(
            name=keep(self.name),
            system_prompt=keep(self.system_prompt),
            top_k=keep(self.top_k),
            similarity_threshold=keep(self.similarity_threshold),
            chat_model=keep(self.chat_model),
            temperature=keep(self.temperature),
            max_tokens=keep(self.max_tokens),
            query_only=keep(self.query_only),
            refusal_text=keep(self.refusal_text),
        )
