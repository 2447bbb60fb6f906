"""The heartbeat of answers being written, with a real ChatGenerator on real SQLite and
PostgreSQL and a model at the process boundary that answers slowly: a live answer is
never taken for an abandoned one, and an answer settled elsewhere stops its writer."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import event

from domain.chat.generation import ChatGenerator, GenerationRequest, GenerationSettings
from domain.chat.messages import send_message
from domain.chat.models import MessageStatus
from domain.chat.recovery import WRITER_STOPPED, fail_abandoned_messages
from domain.llm.port import ChatTurn, ContextPassage, Delta, LLMEvent, Usage
from domain.streams.memory import InProcessMessageStreams
from domain.vectors.factory import build_vector_store
from domain.vectors.port import VectorStore
from domain.workspaces.models import Workspace
from tests.conftest import make_settings
from tests.domain.jobs.conftest import PATIENCE, Database, add_chat, add_message, message

HEARTBEAT_SECONDS = 0.05
BEATING = GenerationSettings(default_model="slow", heartbeat_every_seconds=HEARTBEAT_SECONDS)
# Saves every 20 ms and a heartbeat due 0.5 s after the last renewal: while the answer
# streams, its saves keep the heartbeat fresh.
SAVING = GenerationSettings(
    default_model="chatty", save_every_seconds=0.02, heartbeat_every_seconds=0.5
)
# Twenty heartbeats: a live answer never comes near it, an abandoned one passes it.
STALE = timedelta(seconds=1)


class ScriptedModel:
    """A model at the process boundary: `words` says what it writes; `release` ends it."""

    name = "scripted"

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.started = asyncio.Event()
        self.closed = asyncio.Event()

    async def stream(
        self,
        turns: Sequence[ChatTurn],
        *,
        context: Sequence[ContextPassage] = (),
        model: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> AsyncGenerator[LLMEvent, None]:
        try:
            async for word in self.words():
                yield Delta(word)
            yield Usage(usage=None, model=model or self.name)
        finally:
            self.closed.set()

    def words(self) -> AsyncIterator[str]:
        raise NotImplementedError

    async def title(self, question: str, *, model: str | None = None) -> str:
        return question

    async def aclose(self) -> None:
        return None


class SlowModel(ScriptedModel):
    """Says its first words, then waits for `release` before finishing."""

    async def words(self) -> AsyncIterator[str]:
        yield "The beginning"
        self.started.set()
        await self.release.wait()
        yield " and the end."


class ChattyModel(ScriptedModel):
    """Writes a word every 10 ms until `release`."""

    async def words(self) -> AsyncIterator[str]:
        while not self.release.is_set():
            yield "word "
            await asyncio.sleep(0.01)


@pytest.fixture
def db(database: Database) -> Database:
    return database


@pytest.fixture
async def vectors(tmp_path: Path) -> AsyncIterator[VectorStore]:
    store = build_vector_store(make_settings(tmp_path), 8, f"test:{uuid.uuid4().hex[:8]}")
    try:
        yield store
    finally:
        await store.close()


async def ask(
    db: Database,
    model: ScriptedModel,
    streams: InProcessMessageStreams,
    vectors: VectorStore,
    settings: GenerationSettings = BEATING,
) -> tuple[ChatGenerator, uuid.UUID]:
    def backend(_: Workspace) -> tuple[None, VectorStore]:
        return None, vectors

    generator = ChatGenerator(db.sessionmaker, model, streams, backend, settings)
    chat_id = await add_chat(db)
    async with db.sessionmaker.begin() as session:
        exchange = await send_message(
            session, session_id=chat_id, user_id=db.user_id, content="Tell me.", model="slow"
        )
        await streams.open(exchange.answer.id)
    generator.start(
        GenerationRequest(
            message_id=exchange.answer.id,
            question_id=exchange.question.id,
            session_id=chat_id,
            workspace_id=db.workspace_id,
            user_id=db.user_id,
            question="Tell me.",
        )
    )
    return generator, exchange.answer.id


async def first_heartbeat(db: Database, message_id: uuid.UUID) -> datetime:
    """The writer beats as it starts; under load the write may land just after."""
    while (beat := (await message(db, message_id)).heartbeat_at) is None:  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    return beat


async def settled(generator: ChatGenerator, message_id: uuid.UUID) -> None:
    while generator.is_running(message_id):  # noqa: ASYNC110 (the generator offers no wait)
        await asyncio.sleep(0.01)


async def test_a_live_answer_outlives_the_stale_limit_and_a_dead_one_does_not(
    db: Database, vectors: VectorStore
) -> None:
    # given an answer being written by a slow model, and beside it an answer created at
    # the same moment whose writer is gone (nobody beats for it)
    model, streams = SlowModel(), InProcessMessageStreams()
    generator, live = await ask(db, model, streams, vectors)
    dead = await add_message(db, await add_chat(db), content="", created_at=datetime.now(UTC))
    await asyncio.wait_for(model.started.wait(), PATIENCE)
    first_beat = await asyncio.wait_for(first_heartbeat(db, live), PATIENCE)

    # when both are older than the stale limit and recovery runs
    await asyncio.sleep(STALE.total_seconds() * 1.5)
    settled_now = await fail_abandoned_messages(db.sessionmaker, streams, stale_after=STALE)

    # then only the abandoned one was settled; the live one had kept beating
    assert settled_now == [dead]
    current = await message(db, live)
    assert current.status is MessageStatus.STREAMING
    assert current.heartbeat_at is not None and current.heartbeat_at > first_beat
    # and the live one still completes normally
    model.release.set()
    await asyncio.wait_for(settled(generator, live), PATIENCE)
    done = await message(db, live)
    assert (done.status, done.content) == (MessageStatus.COMPLETE, "The beginning and the end.")
    await generator.stop()


async def test_an_answer_settled_elsewhere_stops_its_writer(
    db: Database, vectors: VectorStore
) -> None:
    # given an answer being written
    model, streams = SlowModel(), InProcessMessageStreams()
    generator, answer = await ask(db, model, streams, vectors)
    await asyncio.wait_for(model.started.wait(), PATIENCE)
    reader = asyncio.create_task(_read(streams, answer))

    # when another replica's recovery settles it (this one's heartbeat could not be
    # written for too long, say)
    later = datetime.now(UTC) + STALE * 10
    # (the database is shared by this module's tests: only this answer matters here)
    assert answer in await fail_abandoned_messages(
        db.sessionmaker, streams, stale_after=STALE, now=later
    )

    # then the writer notices at its next heartbeat and closes the model's stream
    await asyncio.wait_for(model.closed.wait(), PATIENCE)
    await asyncio.wait_for(settled(generator, answer), PATIENCE)
    # and the message keeps the recovery's verdict
    found = await message(db, answer)
    assert (found.status, found.error) == (MessageStatus.FAILED, WRITER_STOPPED)
    # and its reader got the final event
    batches = await asyncio.wait_for(reader, PATIENCE)
    assert batches[-1] is True
    await generator.stop()


async def _read(streams: InProcessMessageStreams, message_id: uuid.UUID) -> list[bool]:
    return [batch.done async for batch in streams.read(message_id)]


def count_heartbeat_writes(db: Database) -> tuple[list[str], Callable[[], None]]:
    """Records each UPDATE of chat_messages by its kind: a beat, or a save of the text."""
    writes: list[str] = []

    def record(_c: object, _cur: object, statement: str, *_: object) -> None:
        text = " ".join(statement.split()).lower()
        if text.startswith("update chat_messages set") and "heartbeat_at" in text:
            writes.append("save" if "content" in text else "beat")

    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    return writes, lambda: event.remove(db.engine.sync_engine, "before_cursor_execute", record)


async def test_a_streaming_answer_is_kept_alive_by_its_saves_alone(
    db: Database, vectors: VectorStore
) -> None:
    # given an answer streaming a word every 10 ms, saved every 20 ms, heartbeat 0.5 s
    writes, stop_counting = count_heartbeat_writes(db)
    model, streams = ChattyModel(), InProcessMessageStreams()
    try:
        generator, answer = await ask(db, model, streams, vectors, SAVING)

        # when it streams for three heartbeat intervals
        await asyncio.sleep(1.5)
        model.release.set()
        await asyncio.wait_for(settled(generator, answer), PATIENCE)
    finally:
        stop_counting()

    # then only the first heartbeat was a write of its own; the saves renewed it after
    # (a second beat is tolerated for a save slowed past 0.5 s on a loaded machine; a
    # heartbeat of its own would have written four)
    assert writes.count("beat") in (1, 2)
    assert writes.count("save") >= 10
    found = await message(db, answer)
    assert found.status is MessageStatus.COMPLETE and found.heartbeat_at is not None
    await generator.stop()


async def test_a_streaming_answer_settled_elsewhere_stops_its_writer(
    db: Database, vectors: VectorStore
) -> None:
    # given an answer streaming and saving (no beats of its own needed)
    model, streams = ChattyModel(), InProcessMessageStreams()
    generator, answer = await ask(db, model, streams, vectors, SAVING)
    while not (await message(db, answer)).content:  # noqa: ASYNC110
        await asyncio.sleep(0.01)

    # when another replica's recovery settles it
    later = datetime.now(UTC) + STALE * 10
    assert answer in await fail_abandoned_messages(
        db.sessionmaker, streams, stale_after=STALE, now=later
    )

    # then its saves find nothing open, the heartbeat falls due and stops the writer
    await asyncio.wait_for(model.closed.wait(), PATIENCE)
    await asyncio.wait_for(settled(generator, answer), PATIENCE)
    found = await message(db, answer)
    assert (found.status, found.error) == (MessageStatus.FAILED, WRITER_STOPPED)
    await generator.stop()
