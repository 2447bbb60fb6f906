"""The FastAPI application: GraphQL over HTTP and WebSocket, health and readiness."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI, Request, WebSocket
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from domain.container import Container
from domain.settings import Settings
from graph.body_limit import BodyLimitMiddleware
from graph.context import Context
from graph.schema import build_schema
from graph.websocket import AuthenticatedGraphQLRouter

logger = logging.getLogger("ragql")


def create_app(settings: Settings | None = None, container: Container | None = None) -> FastAPI:
    settings = settings or (container.settings if container else Settings())
    settings.signing_secret()  # refuse to start in production with a weak secret

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = container is None
        app.state.container = container or Container.build(settings)
        app.state.container.start_background()
        # What exists now lives as long as the app (modules, schema, container): keep the
        # cyclic collector from walking it again. A full collection visits every tracked
        # object, a few hundred thousand here, and requests set one off every few dozen;
        # that walk cost more than the queries of a GraphQL request. Unfrozen on shutdown.
        gc.freeze()
        try:
            yield
        finally:
            gc.unfreeze()
            if owned:
                await app.state.container.close()

    app = FastAPI(title="ragql", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=settings.max_upload_bytes)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=["GET", "POST", "OPTIONS"],
        allow_headers=["authorization", "content-type"],
    )
    schema = build_schema(
        max_depth=settings.graphql_max_depth,
        max_aliases=settings.graphql_max_aliases,
        max_tokens=settings.graphql_max_tokens,
        production=settings.is_production,
    )

    async def get_context(request: Request = None, websocket: WebSocket = None) -> Context:  # type: ignore[assignment]
        connection = request or websocket
        assert connection is not None
        return Context(connection.app.state.container)

    router = AuthenticatedGraphQLRouter(
        schema,
        context_getter=get_context,
        subscription_protocols=[GRAPHQL_TRANSPORT_WS_PROTOCOL],
        connection_init_wait_timeout=timedelta(seconds=settings.ws_connection_init_timeout_seconds),
        max_subscriptions_per_connection=settings.ws_max_subscriptions,
        multipart_uploads_enabled=True,
        allowed_origins=settings.cors_origins,
    )
    app.include_router(router, prefix="/graphql")

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz(request: Request) -> JSONResponse:
        state: Container = request.app.state.container
        checks = {
            "database": await state.database_ready(),
            "vectors": await state.vectors_ready(),
            "bus": await state.bus.ping(),
        }
        ready = all(checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "unavailable", "checks": checks},
            status_code=200 if ready else 503,
        )

    return app
