"""The `ragql` command: serve, migrate, export-schema and admin commands."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import sys
from pathlib import Path

from domain.container import Container
from domain.db.migrate import migrate
from domain.errors import DomainError
from domain.settings import InsecureSettingsError, Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ragql", description="ragql: RAG chat over GraphQL.")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="apply pending migrations, then serve HTTP")
    serve.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port to bind (default 8000)")
    serve.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")

    commands.add_parser("migrate", help="apply pending database migrations and exit")

    export = commands.add_parser("export-schema", help="print the GraphQL schema (SDL)")
    export.add_argument("--output", "-o", type=Path, help="write to this file instead of stdout")

    create_user = commands.add_parser("create-user", help="create an account")
    create_user.add_argument("--email", required=True)
    create_user.add_argument("--display-name", required=True)
    create_user.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )

    args = parser.parse_args(argv)
    try:
        return _COMMANDS[args.command](args)
    except InsecureSettingsError as error:
        print(f"ragql: refusing to start: {error}", file=sys.stderr)
        return 2
    except DomainError as error:
        print(f"ragql: {error.message}", file=sys.stderr)
        return 1


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    settings = Settings()
    settings.signing_secret()
    logging.basicConfig(level=settings.log_level)
    asyncio.run(migrate(settings.resolved_database_url))
    uvicorn.run(
        "graph.server:app",
        factory=False,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=settings.log_level.lower(),
        proxy_headers=True,
    )
    return 0


def _migrate(_args: argparse.Namespace) -> int:
    settings = Settings()
    asyncio.run(migrate(settings.resolved_database_url))
    print("ragql: database is at the latest revision")
    return 0


def _export_schema(args: argparse.Namespace) -> int:
    from graph.schema import build_schema

    sdl = build_schema().as_str() + "\n"
    if args.output:
        args.output.write_text(sdl)
    else:
        sys.stdout.write(sdl)
    return 0


def _create_user(args: argparse.Namespace) -> int:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("Password: ")
    settings = Settings()

    async def run() -> str:
        await migrate(settings.resolved_database_url)
        container = Container.build(settings)
        try:
            async with container.sessionmaker.begin() as session:
                result = await container.auth.register(
                    session, email=args.email, password=password, display_name=args.display_name
                )
            return str(result.user.id)
        finally:
            await container.close()

    print(f"ragql: created user {asyncio.run(run())}")
    return 0


_COMMANDS = {
    "serve": _serve,
    "migrate": _migrate,
    "export-schema": _export_schema,
    "create-user": _create_user,
}

if __name__ == "__main__":
    raise SystemExit(main())
