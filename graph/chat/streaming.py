"""messageStream: replay, then follow, one coalesced frame per read (at most one per
FRAME_SECONDS)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncGenerator
from typing import Annotated

import strawberry

from domain.chat.messages import TERMINAL, get_own_message
from domain.chat.models import ChatMessage as ChatMessageModel
from domain.chat.models import MessageRole
from domain.errors import BadUserInput
from graph.chat.types import ChatMessage
from graph.context import Info
from graph.ids import parse_id

POLL_SECONDS = 1.0
# At most one frame per this long per subscription; deltas arriving meanwhile join the
# next frame. Each frame is a GraphQL execution (about 60 us of CPU, ten times the JSON
# alone), so 200 readers of models writing 50 tokens/s each would cost 10,000 of them a
# second, most of a core; paced, at most 20 per reader a second, whatever the model's
# rate, for at most 50 ms more per token (bench/stream_latency.py).
FRAME_SECONDS = 0.05


@strawberry.type(description="A piece of an answer as it is written.")
class MessageEvent:
    message_id: strawberry.ID = strawberry.field(description="The assistant message.")
    seq: int = strawberry.field(
        description="Sequence number of the last delta in this frame; resume with `after`."
    )
    delta: str = strawberry.field(description="Text since the previous frame (may be empty).")
    done: bool = strawberry.field(description="True on the last frame.")
    message: ChatMessage | None = strawberry.field(
        description="The stored message, on the last frame."
    )


@strawberry.type
class ChatSubscriptions:
    @strawberry.subscription(
        description="The tokens of one answer: every delta after `after` (from the start by "
        "default), then live ones, coalesced into frames; the last frame has done: true "
        "and the stored message. Leaving does not stop the answer."
    )
    async def message_stream(
        self,
        info: Info,
        message_id: Annotated[strawberry.ID, strawberry.argument(description="The answer.")],
        after: Annotated[
            int | None,
            strawberry.argument(description="Last seq already received; 0 or null = all."),
        ] = None,
    ) -> AsyncGenerator[MessageEvent, None]:
        viewer_id = info.context.viewer_id()
        parsed = parse_id(message_id, "Message", "messageId")
        if after is not None and after < 0:
            raise BadUserInput("`after` must be 0 or more.", field="after")
        container = info.context.container
        async with container.sessionmaker() as session:
            message, _ = await get_own_message(session, message_id=parsed, user_id=viewer_id)
        if message.role is not MessageRole.ASSISTANT:
            raise BadUserInput("Only answers stream.", field="messageId")
        last_seq = after or 0
        async for batch in container.streams.read(parsed, after=last_seq):
            last_seq = batch.last_seq
            final = await _stored(info, parsed) if batch.done else None
            yield MessageEvent(
                message_id=strawberry.ID(str(parsed)),
                seq=batch.last_seq,
                delta=batch.text,
                done=batch.done,
                message=ChatMessage.from_model(final) if final else None,
            )
            if batch.done:
                return
            await asyncio.sleep(FRAME_SECONDS)
        # No stream here: finished and evicted, or never started in this process.
        final = await _stored(info, parsed)
        if final.status not in TERMINAL:
            final = await _wait_for_end(info, parsed)
        yield MessageEvent(
            message_id=strawberry.ID(str(parsed)),
            seq=last_seq,
            # A reader from the start gets the whole answer; one resuming cannot be
            # given an exact remainder any more and reads `message.content`.
            delta=final.content if last_seq == 0 else "",
            done=True,
            message=ChatMessage.from_model(final),
        )


async def _stored(info: Info, message_id: uuid.UUID) -> ChatMessageModel:
    async with info.context.container.sessionmaker() as session:
        message = await session.get(ChatMessageModel, message_id)
    assert message is not None
    return message


async def _wait_for_end(info: Info, message_id: uuid.UUID) -> ChatMessageModel:
    """An open message with no stream here is written by no one in this process (its
    process died; recovery settles it): report it once it has settled."""
    while True:
        await asyncio.sleep(POLL_SECONDS)
        message = await _stored(info, message_id)
        if message.status in TERMINAL:
            return message
