"""Writing an answer: retrieve, prompt, stream from the model, persist.

One task per answer, owned by this process. Deltas go to the message stream as they
arrive; the text is saved every few seconds and at the end, so a crash loses little.
While it writes, the process renews the message's heartbeat; if this process dies the
heartbeat stops and the recovery job settles the message (domain.chat.recovery). Only
`cancel` stops a generation, or the message being settled by someone else (the heartbeat
then finds it closed); readers coming and going never do.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.chat.messages import OPEN, history_before, title_from_question
from domain.chat.models import ChatMessage, ChatSession, MessageStatus
from domain.chat.prompt import build_prompt, estimate_tokens
from domain.documents.models import WorkspaceDocument
from domain.embeddings.port import Embedder
from domain.llm.port import LLM, Delta, LLMError, Usage
from domain.retrieval.search import MAX_QUERY_CHARS, Passage, search
from domain.streams.port import MessageStreams
from domain.vectors.port import VectorStore
from domain.workspaces.access import authorize
from domain.workspaces.models import Workspace

logger = logging.getLogger(__name__)
SearchBackend = Callable[[Workspace], tuple[Embedder | None, VectorStore]]
DEFAULT_REFUSAL = "I could not find anything about that in this workspace's documents."
UNEXPECTED = "The answer failed unexpectedly; the server log has the details."
SHUTDOWN = "The server stopped while writing this answer."
# Interim saves running at once in this process (see ChatGenerator._save_soon).
SAVES_AT_ONCE = 4
# Title requests at once in this process: answers that end together (a burst of new
# sessions) would otherwise start theirs together, and the CPU of the burst delays the
# tokens of every answer still streaming. A title can wait; a token should not.
TITLES_AT_ONCE = 4


@dataclass(frozen=True, slots=True)
class GenerationRequest:
    message_id: uuid.UUID
    question_id: uuid.UUID
    session_id: uuid.UUID
    workspace_id: uuid.UUID
    user_id: uuid.UUID
    question: str
    first_question: bool = False


@dataclass(frozen=True, slots=True)
class GenerationSettings:
    default_model: str
    prompt_budget_tokens: int = 6000
    save_every_seconds: float = 2.0
    # At most this long between heartbeats while an answer is being written; keep it
    # well under the recovery job's stale limit (MESSAGE_STALE_SECONDS).
    heartbeat_every_seconds: float = 5.0


class ChatGenerator:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        llm: LLM,
        streams: MessageStreams,
        search_backend: SearchBackend,
        settings: GenerationSettings,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._llm = llm
        self._streams = streams
        self._search_backend = search_backend
        self.settings = settings
        self._tasks: dict[uuid.UUID, asyncio.Task[None]] = {}
        self._saves_running = 0
        self._titles = asyncio.Semaphore(TITLES_AT_ONCE)
        self._cancelled: set[uuid.UUID] = set()

    @property
    def model_name(self) -> str:
        return self._llm.name if self._llm.name == "extractive" else self.settings.default_model

    def start(self, request: GenerationRequest) -> None:
        task = asyncio.create_task(self._run(request), name=f"answer-{request.message_id}")
        self._tasks[request.message_id] = task
        task.add_done_callback(lambda _: self._tasks.pop(request.message_id, None))

    def is_running(self, message_id: uuid.UUID) -> bool:
        return message_id in self._tasks

    async def cancel(self, message_id: uuid.UUID) -> bool:
        """Stops a generation running in this process; the provider request is closed."""
        task = self._tasks.get(message_id)
        if task is None:
            return False
        self._cancelled.add(message_id)
        task.cancel()
        await asyncio.wait([task])
        return True

    async def stop(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)

    async def _run(self, request: GenerationRequest) -> None:
        answer = _Answer()
        try:
            await self._generate_alive(request, answer)
        except asyncio.CancelledError:
            cancelled = request.message_id in self._cancelled
            self._cancelled.discard(request.message_id)
            status = MessageStatus.CANCELLED if cancelled else MessageStatus.FAILED
            await asyncio.shield(
                self._finish(request, answer, status, None if cancelled else SHUTDOWN)
            )
            raise
        except LLMError as error:
            await self._finish(request, answer, MessageStatus.FAILED, str(error))
        except Exception:
            logger.exception("answer %s failed", request.message_id)
            await self._finish(request, answer, MessageStatus.FAILED, UNEXPECTED)
        else:
            await self._finish(request, answer, MessageStatus.COMPLETE, None)
            # A refusal never reaches the model, not even for a title.
            if request.first_question and not answer.refused:
                await self._title(request)

    async def _generate_alive(self, request: GenerationRequest, answer: _Answer) -> None:
        """`_generate`, with the heartbeat renewed alongside until it ends."""
        generation = asyncio.current_task()
        assert generation is not None
        beat = asyncio.create_task(
            self._keep_alive(request, generation, answer), name=f"heartbeat-{request.message_id}"
        )
        try:
            await self._generate(request, answer)
        finally:
            beat.cancel()
            # wait() rather than await: a cancellation of this task is never swallowed.
            await asyncio.wait([beat])

    async def _keep_alive(
        self, request: GenerationRequest, generation: asyncio.Task[Any], answer: _Answer
    ) -> None:
        """Beats at once, then whenever `heartbeat_every_seconds` have passed since the
        heartbeat was last renewed: interim saves renew it too, so a streaming answer
        needs no beats of its own. When the message is no longer open (settled FAILED by
        the recovery job after a long database outage, cancelled from another replica,
        deleted with its session), the generation stops: nothing it writes would be kept."""
        every = self.settings.heartbeat_every_seconds
        while True:
            due = answer.renewed_at + every - time.monotonic()
            if due > 0:
                await asyncio.sleep(due)
                continue
            try:
                alive = await self._beat(request.message_id)
            except Exception:
                logger.warning("heartbeat of %s failed", request.message_id, exc_info=True)
                await asyncio.sleep(every)
                continue
            if not alive:
                logger.info("answer %s was settled elsewhere; stopping", request.message_id)
                self._cancelled.add(request.message_id)
                generation.cancel()
                return
            answer.renewed_at = time.monotonic()

    async def _beat(self, message_id: uuid.UUID) -> bool:
        async with self._sessionmaker.begin() as session:
            result = await session.execute(
                update(ChatMessage)
                .where(ChatMessage.id == message_id, ChatMessage.status.in_(OPEN))
                .values(heartbeat_at=datetime.now(UTC))
            )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def _generate(self, request: GenerationRequest, answer: _Answer) -> None:
        async with self._sessionmaker() as session:
            access = await authorize(session, request.workspace_id, request.user_id)
            history = await history_before(session, request.session_id, request.question_id)
        workspace = access.workspace
        embedder, vectors = self._search_backend(workspace)
        passages = await search(
            access,
            request.question[:MAX_QUERY_CHARS],
            embedder=embedder,
            vectors=vectors,
            limit=workspace.top_k,
        )
        if workspace.query_only and not passages:
            answer.refused = True
            answer.model = None
            await self._emit(request, answer, workspace.refusal_text or DEFAULT_REFUSAL)
            return
        filenames = await self._filenames(passages)
        prompt = build_prompt(
            question=request.question,
            passages=passages,
            filenames=filenames,
            history=history,
            system_prompt=workspace.system_prompt,
            budget_tokens=self.settings.prompt_budget_tokens,
        )
        answer.sources = [_source(p, filenames) for p in prompt.cited]
        answer.model = workspace.chat_model or self.model_name
        stream = self._llm.stream(
            prompt.turns,
            context=prompt.context,
            model=answer.model,
            temperature=workspace.temperature,
            max_tokens=workspace.max_tokens,
        )
        async with contextlib.aclosing(stream):
            async for event in stream:
                if isinstance(event, Delta):
                    await self._emit(request, answer, event.text)
                elif isinstance(event, Usage):
                    if event.usage is not None:
                        answer.usage = {
                            "prompt_tokens": event.usage.prompt_tokens,
                            "completion_tokens": event.usage.completion_tokens,
                            "total_tokens": event.usage.total_tokens,
                        }
                    answer.model = event.model or answer.model
        if answer.usage is None:  # the provider did not say; an estimate beats nothing
            prompt_tokens = sum(estimate_tokens(turn.content) for turn in prompt.turns)
            completion = estimate_tokens(answer.text)
            answer.usage = {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion,
                "total_tokens": prompt_tokens + completion,
                "estimated": True,
            }

    async def _emit(self, request: GenerationRequest, answer: _Answer, text: str) -> None:
        if not text:
            return
        answer.parts.append(text)
        await self._streams.append(request.message_id, text)
        if time.monotonic() - answer.saved_at >= self.settings.save_every_seconds:
            self._save_soon(request.message_id, answer)

    def _save_soon(self, message_id: uuid.UUID, answer: _Answer) -> None:
        """Saves the text so far in a task of its own: the deltas never wait for the
        database (awaited here, a save under load held every token of the answer back
        for as long as the database took). One save per answer at a time, and at most
        SAVES_AT_ONCE in the process, so interim saves cannot take the connection pool
        from requests; a save skipped now happens at a later delta, and `_finish`
        always writes the whole text."""
        if answer.saving is not None and not answer.saving.done():
            return
        if self._saves_running >= SAVES_AT_ONCE:
            return
        answer.saved_at = time.monotonic()
        self._saves_running += 1
        answer.saving = asyncio.create_task(
            self._save(message_id, answer), name=f"save-{message_id}"
        )
        answer.saving.add_done_callback(self._saved)

    def _saved(self, _: asyncio.Task[None]) -> None:
        self._saves_running -= 1

    async def _save(self, message_id: uuid.UUID, answer: _Answer) -> None:
        try:
            async with self._sessionmaker.begin() as session:
                result = await session.execute(
                    update(ChatMessage)
                    .where(ChatMessage.id == message_id, ChatMessage.status.in_(OPEN))
                    .values(content=answer.text, heartbeat_at=datetime.now(UTC))
                )
        except Exception:
            logger.warning("could not save answer %s so far", message_id, exc_info=True)
            return
        # No row: settled elsewhere. The heartbeat, no longer renewed, finds out and stops.
        if result.rowcount:  # type: ignore[attr-defined]
            answer.renewed_at = time.monotonic()

    async def _finish(
        self,
        request: GenerationRequest,
        answer: _Answer,
        status: MessageStatus,
        error: str | None,
    ) -> None:
        try:
            if answer.saving is not None:  # the final write comes after the interim one
                await asyncio.wait([answer.saving])
            async with self._sessionmaker.begin() as session:
                # Only from an open state: a message never leaves COMPLETE, CANCELLED, FAILED.
                await session.execute(
                    update(ChatMessage)
                    .where(ChatMessage.id == request.message_id, ChatMessage.status.in_(OPEN))
                    .values(
                        status=status,
                        content=answer.text,
                        error=error,
                        sources=answer.sources,
                        usage=answer.usage,
                        model=answer.model,
                    )
                )
        finally:
            await self._streams.finish(request.message_id)

    async def _filenames(self, passages: list[Passage]) -> dict[object, str]:
        ids = {passage.hit.document_id for passage in passages}
        if not ids:
            return {}
        async with self._sessionmaker() as session:
            rows = await session.execute(
                select(WorkspaceDocument.id, WorkspaceDocument.filename).where(
                    WorkspaceDocument.id.in_(ids)
                )
            )
            return {document_id: filename for document_id, filename in rows.all()}

    async def _title(self, request: GenerationRequest) -> None:
        """A model-written session title, unless the user renamed the session meanwhile."""
        try:
            async with self._titles:
                title = " ".join((await self._llm.title(request.question)).split())[:200]
        except Exception:
            logger.warning("could not title session %s", request.session_id, exc_info=True)
            return
        if not title:
            return
        async with self._sessionmaker.begin() as session:
            await session.execute(
                update(ChatSession)
                .where(
                    ChatSession.id == request.session_id,
                    ChatSession.title == title_from_question(request.question),
                )
                .values(title=title)
            )


class _Answer:
    def __init__(self) -> None:
        self.parts: list[str] = []
        self.sources: list[dict[str, Any]] = []
        self.usage: dict[str, Any] | None = None
        self.model: str | None = None
        self.refused = False
        self.saved_at = time.monotonic()
        self.saving: asyncio.Task[None] | None = None
        # When the message's heartbeat was last written, by a beat or an interim save.
        self.renewed_at = -math.inf

    @property
    def text(self) -> str:
        return "".join(self.parts)


def _source(passage: Passage, filenames: dict[object, str]) -> dict[str, Any]:
    hit = passage.hit
    return {
        "document_id": str(hit.document_id),
        "filename": filenames.get(hit.document_id),
        "chunk": hit.ordinal,
        "page": hit.page,
        "heading": hit.heading or None,
        "score": passage.score,
        "snippet": hit.text,
    }
