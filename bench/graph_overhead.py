"""GraphQL overhead: requests per second of a typical SPA query, next to a plain endpoint.

    /work/venv/bin/python bench/graph_overhead.py            # under a minute
    /work/venv/bin/python bench/graph_overhead.py --enforce  # exit 1 below the target

Three processes, so that the load generator does not steal the server's event loop:

* this one seeds a temporary SQLite database and orchestrates;
* ``serve``: uvicorn (uvloop + httptools, as in production) on a free loopback port, serving
  ``graph.app.create_app`` plus one extra route, ``GET /bench/plain``, added here only;
* ``load``: a small keep-alive HTTP/1.1 client on raw asyncio streams (cheaper per request
  than httpx, so the client is never the bottleneck), several connections at once.

Both endpoints do the same work: decode the bearer token, read the viewer, their first 20
workspaces, each workspace's members with their users and the viewer's sessions in it, with
the same repository functions, and answer the same JSON (the decoded bodies are compared
before anything is measured, and every measured response must have the expected length).
After a warm-up the two alternate, ABBA, for ``--rounds`` rounds; the medians of requests
per second and their ratio are on the last line, the server's CPU time per request (all its
threads, from /proc) above it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TARGET_RATIO = 0.5
WORKSPACES = 20
MEMBERS_PER_WORKSPACE = 3  # the viewer and two colleagues
SESSIONS_PER_WORKSPACE = 5
COLLEAGUES = 10
PAGE = 20
PLAIN_PATH = "/bench/plain"
KINDS = ("graphql", "plain")
# How the orchestrator hands the signing key and the viewer's bearer to its children.
SIGNING_KEY_VAR = "RAGQL_BENCH_SIGNING_KEY"
BEARER_VAR = "RAGQL_BENCH_BEARER"

# What a single-page app asks for on its home screen.
QUERY = """
query Home {
  viewer {
    id
    email
    displayName
    workspaces(first: 20) {
      edges {
        cursor
        node {
          id
          name
          viewerRole
          updatedAt
          members(first: 20) {
            edges { node { id role user { id displayName email } } }
            pageInfo { hasNextPage endCursor }
          }
          sessions(first: 20) {
            edges { node { id title updatedAt } }
            pageInfo { hasNextPage endCursor }
          }
        }
      }
      pageInfo { hasNextPage endCursor }
    }
  }
}
"""


# --------------------------------------------------------------------------- settings


def bench_settings(data_dir: Path, secret: str) -> Any:
    from domain.settings import Settings

    values: dict[str, Any] = {
        "data_dir": data_dir,
        "jwt_secret": secret,
        "enable_background_jobs": False,
        "argon2_memory_kib": 1024,
        "argon2_time_cost": 1,
        # No in-process ingestion workers: their polling would be measured with the requests.
        "ingestion_workers": 0,
    }
    known = Settings.model_fields
    return Settings(_env_file=None, **{k: v for k, v in values.items() if k in known})


# --------------------------------------------------------------------------- seeding


async def seed(data_dir: Path, secret: str) -> str:
    """Migrate a fresh SQLite database, fill it, and return the viewer's access token."""
    from domain.auth.tokens import TokenType
    from domain.chat.models import ChatSession
    from domain.container import Container
    from domain.db.base import new_id
    from domain.db.migrate import migrate
    from domain.users.models import User
    from domain.workspaces.models import Workspace, WorkspaceMember, WorkspaceRole

    settings = bench_settings(data_dir, secret)
    await migrate(settings.resolved_database_url)
    container = Container.build(settings)
    try:

        def user(email: str, name: str) -> User:
            # Nobody signs in with a password here: the viewer's token is issued below.
            return User(id=new_id(), email=email, display_name=name, password_hash="!")

        viewer = user("viewer@example.com", "Viewer")
        colleagues = [
            user(f"colleague{n}@example.com", f"Colleague {n}") for n in range(COLLEAGUES)
        ]
        rows: list[Any] = [viewer, *colleagues]
        for n in range(WORKSPACES):
            workspace = Workspace(id=new_id(), name=f"Workspace {n}", system_prompt="Be brief.")
            rows.append(workspace)
            rows.append(
                WorkspaceMember(
                    workspace_id=workspace.id, user_id=viewer.id, role=WorkspaceRole.OWNER
                )
            )
            for k, role in enumerate((WorkspaceRole.EDITOR, WorkspaceRole.VIEWER)):
                rows.append(
                    WorkspaceMember(
                        workspace_id=workspace.id,
                        user_id=colleagues[(n + k) % COLLEAGUES].id,
                        role=role,
                    )
                )
            for s in range(SESSIONS_PER_WORKSPACE):
                rows.append(
                    ChatSession(workspace_id=workspace.id, user_id=viewer.id, title=f"Chat {s}")
                )
            # A colleague's session: private, so neither endpoint may return it.
            rows.append(
                ChatSession(
                    workspace_id=workspace.id, user_id=colleagues[n % COLLEAGUES].id, title="x"
                )
            )
        async with container.sessionmaker() as session, session.begin():
            # One at a time: members and sessions need their workspace and users first.
            for row in rows:
                session.add(row)
                await session.flush()
        token, _ = container.tokens.issue(viewer.id, TokenType.ACCESS)
        return token
    finally:
        await container.close()


# --------------------------------------------------------------------------- server


def build_app(data_dir: Path, secret: str) -> Any:
    """The production app, plus the plain endpoint (mounted here, never in production)."""
    from domain.auth.tokens import TokenType
    from domain.chat import repository as chats
    from domain.container import Container
    from domain.errors import Unauthenticated
    from domain.pagination import PageRequest
    from domain.users import repository as users
    from domain.workspaces import repository as workspaces
    from graph.app import create_app
    from graph.relay import encode_cursor

    container = Container.build(bench_settings(data_dir, secret))
    app = create_app(container=container)

    def page_info(page: Any, key: Any) -> dict[str, Any]:
        return {
            "hasNextPage": page.has_next_page,
            "endCursor": encode_cursor(key(page.items[-1])) if page.items else None,
        }

    @app.get(PLAIN_PATH, include_in_schema=False)
    async def plain(request: Request) -> Response:
        state: Container = request.app.state.container
        # The same sign-in check as graph.context.Context: a bearer access token.
        header = (request.headers.get("authorization") or "").strip()
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return JSONResponse({"error": "unauthenticated"}, status_code=401)
        try:
            viewer_id = state.tokens.decode(token.strip(), TokenType.ACCESS).user_id
        except Unauthenticated:
            return JSONResponse({"error": "unauthenticated"}, status_code=401)
        max_size = state.settings.graphql_max_page_size
        page = PageRequest(first=PAGE).validated(max_size=max_size, default_size=PAGE)
        # The same statements the GraphQL loaders issue, in one session.
        async with state.sessionmaker() as session:
            found = {u.id: u for u in await users.list_by_ids(session, [viewer_id])}
            viewer = found.get(viewer_id)
            if viewer is None:
                return JSONResponse({"data": {"viewer": None}})
            mine = await workspaces.workspaces_of_user(session, viewer_id, page)
            ids = [access.workspace_id for access in mine.items]
            members = await workspaces.members_of_workspaces(session, ids, page)
            chats_by_workspace = await chats.sessions_of_workspaces(session, ids, viewer_id, page)
            missing = list(
                dict.fromkeys(
                    m.user_id for p in members.values() for m in p.items if m.user_id not in found
                )
            )
            if missing:
                found.update({u.id: u for u in await users.list_by_ids(session, missing)})

        def user_json(user_id: uuid.UUID) -> dict[str, Any]:
            user = found[user_id]
            return {"id": str(user.id), "displayName": user.display_name, "email": user.email}

        edges = []
        for access in mine.items:
            workspace = access.workspace
            member_page = members[workspace.id]
            chat_page = chats_by_workspace[workspace.id]
            edges.append(
                {
                    "cursor": encode_cursor(workspace.id),
                    "node": {
                        "id": str(workspace.id),
                        "name": workspace.name,
                        "viewerRole": access.role.value,
                        "updatedAt": workspace.updated_at.isoformat(),
                        "members": {
                            "edges": [
                                {
                                    "node": {
                                        "id": str(m.id),
                                        "role": m.role.value,
                                        "user": user_json(m.user_id),
                                    }
                                }
                                for m in member_page.items
                            ],
                            "pageInfo": page_info(member_page, lambda m: m.id),
                        },
                        "sessions": {
                            "edges": [
                                {
                                    "node": {
                                        "id": str(c.id),
                                        "title": c.title,
                                        "updatedAt": c.updated_at.isoformat(),
                                    }
                                }
                                for c in chat_page.items
                            ],
                            "pageInfo": page_info(chat_page, lambda c: c.id),
                        },
                    },
                }
            )
        body = {
            "data": {
                "viewer": {
                    "id": str(viewer.id),
                    "email": viewer.email,
                    "displayName": viewer.display_name,
                    "workspaces": {
                        "edges": edges,
                        "pageInfo": page_info(mine, lambda a: a.workspace_id),
                    },
                }
            }
        }
        return JSONResponse(body)

    return app


def serve(data_dir: Path, port: int) -> None:
    import uvicorn

    app = build_app(data_dir, os.environ[SIGNING_KEY_VAR])
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="on",
        loop="auto",  # uvloop when installed, as `ragql serve` gets
        http="auto",  # httptools when installed
    )


# --------------------------------------------------------------------------- load


def _request_bytes(kind: str, port: int, token: str) -> bytes:
    common = f"Host: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\nAccept: */*\r\n"
    if kind == "plain":
        return f"GET {PLAIN_PATH} HTTP/1.1\r\n{common}\r\n".encode()
    body = json.dumps({"query": QUERY, "operationName": "Home"}).encode()
    head = (
        f"POST /graphql HTTP/1.1\r\n{common}Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    status_line = await reader.readuntil(b"\r\n")
    status = int(status_line.split(b" ", 2)[1])
    length = -1
    while True:
        line = await reader.readuntil(b"\r\n")
        if line == b"\r\n":
            break
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    if length < 0:
        raise RuntimeError("response without Content-Length")
    return status, await reader.readexactly(length)


async def _worker(
    port: int, payload: bytes, seconds: float, expected_length: int
) -> tuple[int, int, float]:
    loop = asyncio.get_running_loop()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    done = failed = 0
    deadline = loop.time() + seconds
    try:
        while loop.time() < deadline:
            writer.write(payload)
            status, body = await _read_response(reader)
            # A cheap check on every response; the full comparison happened before.
            if status == 200 and len(body) == expected_length:
                done += 1
            else:
                failed += 1
    finally:
        writer.close()
        await writer.wait_closed()
    return done, failed, loop.time()


def server_cpu_seconds(pid: int) -> float | None:
    """User plus system CPU time of the server process, all threads (Linux only)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _phase(
    port: int,
    payload: bytes,
    seconds: float,
    connections: int,
    expected_length: int,
    server_pid: int,
) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    cpu_before = server_cpu_seconds(server_pid)
    start = loop.time()
    results = await asyncio.gather(
        *(_worker(port, payload, seconds, expected_length) for _ in range(connections))
    )
    elapsed = max(end for _, _, end in results) - start
    cpu_after = server_cpu_seconds(server_pid)
    done = sum(d for d, _, _ in results)
    failed = sum(f for _, f, _ in results)
    cpu_ms = (
        (cpu_after - cpu_before) * 1000 / done
        if cpu_before is not None and cpu_after is not None and done
        else None
    )
    return {
        "requests": done,
        "failed": failed,
        "seconds": elapsed,
        "rps": done / elapsed,
        "server_cpu_ms": cpu_ms,
    }


async def _load(port: int, plan: dict[str, Any]) -> list[dict[str, Any]]:
    token = os.environ[BEARER_VAR]
    payloads = {kind: _request_bytes(kind, port, token) for kind in KINDS}
    lengths, connections, pid = plan["lengths"], plan["connections"], plan["server_pid"]
    for kind in KINDS:  # warm-up: pools, caches and lazy imports, not counted
        await _phase(port, payloads[kind], plan["warmup"], connections, lengths[kind], pid)
    out = []
    for round_number in range(plan["rounds"]):
        # Alternating order (ABBA): neither endpoint always runs first, so slow drift in the
        # machine's state (other load, frequency, heap growth) does not favour one of them.
        order = KINDS if round_number % 2 == 0 else KINDS[::-1]
        for kind in order:
            result = await _phase(
                port, payloads[kind], plan["seconds"], connections, lengths[kind], pid
            )
            out.append({"round": round_number, "kind": kind, **result})
            if plan["verbose"]:
                print(json.dumps(out[-1]), file=sys.stderr, flush=True)
    return out


def load(port: int) -> None:
    plan = json.loads(sys.stdin.read())
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    print(json.dumps(asyncio.run(_load(port, plan))), flush=True)


# --------------------------------------------------------------------------- orchestration


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(port: int, server: subprocess.Popen[bytes], timeout: float = 60) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"server exited with {server.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit("server did not start")


def check_equivalent(port: int, token: str) -> dict[str, int]:
    """Both endpoints answer the same data; returns each body's length for the load check."""
    import httpx

    auth = {"authorization": f"Bearer {token}"}
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        graph = client.post(
            "/graphql", json={"query": QUERY, "operationName": "Home"}, headers=auth
        )
        plain = client.get(PLAIN_PATH, headers=auth)
        refused = client.get(PLAIN_PATH)
    assert graph.status_code == 200, graph.text
    assert plain.status_code == 200, plain.text
    assert refused.status_code == 401, "the plain endpoint must check the token too"
    graph_body, plain_body = graph.json(), plain.json()
    assert "errors" not in graph_body, graph_body["errors"]
    assert graph_body == plain_body, "the two endpoints disagree"
    viewer = graph_body["data"]["viewer"]
    nodes = [edge["node"] for edge in viewer["workspaces"]["edges"]]
    assert len(nodes) == WORKSPACES
    assert all(len(n["members"]["edges"]) == MEMBERS_PER_WORKSPACE for n in nodes)
    assert all(len(n["sessions"]["edges"]) == SESSIONS_PER_WORKSPACE for n in nodes)
    return {"graphql": len(graph.content), "plain": len(plain.content)}


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Seed, serve, check, load; returns the measured phases."""
    with tempfile.TemporaryDirectory(prefix="ragql-bench-") as tmp:
        data_dir = Path(tmp)
        secret = secrets.token_urlsafe(48)
        token = asyncio.run(seed(data_dir, secret))
        port = free_port()
        script = str(Path(__file__).resolve())
        env = {**os.environ, SIGNING_KEY_VAR: secret, BEARER_VAR: token}
        server = subprocess.Popen(
            [sys.executable, script, "serve", "--data-dir", str(data_dir), "--port", str(port)],
            env=env,
            cwd=ROOT,
        )
        try:
            wait_until_up(port, server)
            lengths = check_equivalent(port, token)
            plan = {
                "rounds": args.rounds,
                "seconds": args.seconds,
                "warmup": args.warmup,
                "connections": args.connections,
                "lengths": lengths,
                "server_pid": server.pid,
                "verbose": args.verbose,
            }
            client = subprocess.run(
                [sys.executable, script, "load", "--port", str(port)],
                env=env,
                cwd=ROOT,
                input=json.dumps(plan).encode(),
                stdout=subprocess.PIPE,
                check=True,
            )
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
    phases: list[dict[str, Any]] = json.loads(client.stdout)
    return phases


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=6, help="measured rounds (default 6)")
    parser.add_argument("--seconds", type=float, default=3.0, help="per endpoint and round (3)")
    parser.add_argument("--warmup", type=float, default=3.0, help="per endpoint, not counted (3)")
    parser.add_argument("--connections", type=int, default=8, help="concurrent keep-alives (8)")
    parser.add_argument("--verbose", action="store_true", help="print every phase as it ends")
    parser.add_argument(
        "--enforce", action="store_true", help=f"exit 1 when the ratio is below {TARGET_RATIO}"
    )
    args = parser.parse_args()

    load_before = os.getloadavg()[0]
    phases = run(args)
    failed = sum(p["failed"] for p in phases)
    if failed:
        print(f"graph_overhead: {failed} failed requests", file=sys.stderr)
        return 2

    def median(kind: str, key: str) -> float | None:
        values = [p[key] for p in phases if p["kind"] == kind and p[key] is not None]
        return statistics.median(values) if values else None

    rps = {kind: median(kind, "rps") or 0.0 for kind in KINDS}
    cpu = {kind: median(kind, "server_cpu_ms") for kind in KINDS}
    ratio = rps["graphql"] / rps["plain"]
    for kind in KINDS:
        runs = ", ".join(f"{p['rps']:.0f}" for p in phases if p["kind"] == kind)
        cost = f"; server CPU {cpu[kind]:.1f} ms/request" if cpu[kind] else ""
        print(f"  {kind:<8} rps per round: {runs}{cost}")
    if cpu["graphql"] and cpu["plain"]:
        cpu_ratio = cpu["plain"] / cpu["graphql"]
        print(f"  server CPU-time ratio (plain/graphql per request): {cpu_ratio:.2f}x")
    cores = os.cpu_count() or 1
    if max(load_before, os.getloadavg()[0]) > cores / 2:
        print(
            f"  note: load average {load_before:.1f} on {cores} CPUs before the run; other "
            "processes were busy, so absolute figures are low and the ratio is noisier"
        )
    print(
        f"graph_overhead: graphql {rps['graphql']:.0f} rps, plain {rps['plain']:.0f} rps, "
        f"ratio {ratio:.2f}x (target >= {TARGET_RATIO}x)",
        flush=True,
    )
    return 1 if args.enforce and ratio < TARGET_RATIO else 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] in ("serve", "load"):
        sub = argparse.ArgumentParser()
        sub.add_argument("role")
        sub.add_argument("--port", type=int, required=True)
        sub.add_argument("--data-dir", type=Path)
        ns = sub.parse_args()
        if ns.role == "serve":
            serve(ns.data_dir, ns.port)
        else:
            load(ns.port)
        sys.exit(0)
    sys.exit(main())
