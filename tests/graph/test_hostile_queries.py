"""Malformed and hostile requests: a clear error every time, never an HTTP 500."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from domain.container import Container
from graph.app import create_app
from tests.conftest import make_settings
from tests.support.client import GraphQLClient, SignedIn, errors
from tests.support.server import running_server

VIEWER = "query { viewer { id } }"
# Depth 12, the limit: viewer > workspaces > edges > node > members > edges > node > user
# > workspaces > edges > node > id.
AT_DEPTH_LIMIT = """
query {
  viewer { workspaces { edges { node { members { edges { node { user {
    workspaces { edges { node { id } } }
  } } } } } } } }
}
"""
# Three levels deeper than the limit.
TOO_DEEP = """
query {
  viewer { workspaces { edges { node { members { edges { node { user {
    workspaces { edges { node { members { edges { node { id } } } } } }
  } } } } } } } }
}
"""
# The same depth hidden in fragments.
TOO_DEEP_IN_FRAGMENTS = """
query { viewer { ...Lists } }
fragment Lists on User { workspaces { edges { node { ...Members } } } }
fragment Members on Workspace { members { edges { node { user { ...Again } } } } }
fragment Again on User {
  workspaces { edges { node { members { edges { node { id } } } } } }
}
"""
SYNTAX_ERROR = "query { viewer { id "
UNKNOWN_FIELD = "query { viewer { id passwordHash } }"
UNKNOWN_ARGUMENT = 'query { workspace(id: "x", secret: true) { id } }'
FRAGMENT_CYCLE = """
query { viewer { ...A } }
fragment A on User { ...B }
fragment B on User { ...A }
"""
WORKSPACE = "query Workspace($id: ID!) { workspace(id: $id) { id } }"
MY_WORKSPACES = """
query MyWorkspaces($first: Int) { viewer { workspaces(first: $first) { edges { node { name } } } } }
"""
CREATE_CHAT = """
mutation Create($ws: ID!, $title: String) {
  createChatSession(workspaceId: $ws, title: $title) { id }
}
"""
CREATE_WORKSPACE = """
mutation Create($name: String!) { createWorkspace(input: {name: $name}) { id } }
"""
CREATE_WORKSPACE_INLINE = 'mutation { createWorkspace(input: {name: "Via GET"}) { id } }'
NAMED_OPERATION = "query A { viewer { id } }"
DOCUMENT_EVENTS = 'subscription { documentEvents(workspaceId: "x") { id } }'


def aliases(count: int) -> str:
    return "query { " + " ".join(f"a{n}: viewer {{ id }}" for n in range(count)) + " }"


def many_tokens(count: int) -> str:
    # Each `viewer { id }` is four tokens.
    return "query { " + " ".join("viewer { id }" for _ in range(count // 4)) + " }"


def many_fragments(count: int) -> str:
    # Nine tokens per fragment: `...Fn` (2) and `fragment Fn on User { id }` (7).
    spreads = " ".join(f"...F{n}" for n in range(count))
    fragments = " ".join(f"fragment F{n} on User {{ id }}" for n in range(count))
    return f"query {{ viewer {{ {spreads} }} }} {fragments}"


async def post(client: GraphQLClient, payload: Any, token: str | None = None) -> dict[str, Any]:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    response = await client.http.post("/graphql", json=payload, headers=headers)
    assert response.status_code == 200, (response.status_code, response.text)
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
async def alice(client: GraphQLClient) -> SignedIn:
    return await client.register("alice")


async def test_a_query_at_the_depth_limit_runs(client: GraphQLClient, alice: SignedIn) -> None:
    # given
    workspace_id = await client.create_workspace(alice, "Deep")

    # when
    data = await client.data(AT_DEPTH_LIMIT, token=alice.access_token)

    # then
    member = data["viewer"]["workspaces"]["edges"][0]["node"]["members"]["edges"][0]["node"]
    assert member["user"]["workspaces"]["edges"] == [{"node": {"id": workspace_id}}]


@pytest.mark.parametrize("query", [TOO_DEEP, TOO_DEEP_IN_FRAGMENTS], ids=["inline", "fragments"])
async def test_an_over_deep_query_is_refused_before_it_runs(
    client: GraphQLClient, alice: SignedIn, query: str
) -> None:
    # when
    body = await post(client, {"query": query}, alice.access_token)

    # then
    assert errors(body) == [("GRAPHQL_VALIDATION_FAILED", None)]
    assert body["data"] is None
    assert "exceeds maximum operation depth of 12" in body["errors"][0]["message"]


async def test_30_aliases_are_allowed(client: GraphQLClient, alice: SignedIn) -> None:
    # when
    data = await client.data(aliases(30), token=alice.access_token)

    # then
    assert len(data) == 30
    assert set(data) == {f"a{n}" for n in range(30)}


@pytest.mark.parametrize("count", [31, 100])
async def test_too_many_aliases_are_refused(client: GraphQLClient, count: int) -> None:
    # when
    body = await post(client, {"query": aliases(count)})

    # then
    assert errors(body) == [("GRAPHQL_VALIDATION_FAILED", None)]
    assert body["data"] is None
    assert body["errors"][0]["message"] == f"{count} aliases found. Allowed: 30"


async def test_a_document_under_the_token_limit_runs(
    client: GraphQLClient, alice: SignedIn
) -> None:
    # when: about 1900 tokens
    data = await client.data(many_fragments(210), token=alice.access_token)

    # then
    assert data == {"viewer": {"id": alice.user_id}}


async def test_a_query_too_costly_to_validate_is_aborted(client: GraphQLClient) -> None:
    # given: hundreds of identical fields, which validation compares pairwise
    query = many_tokens(1900)

    # when
    body = await post(client, {"query": query})

    # then
    assert errors(body) == [("GRAPHQL_VALIDATION_FAILED", None)]
    assert body["errors"][0]["message"] == "Validation aborted."


@pytest.mark.parametrize("count", [2100, 50_000])
async def test_too_many_tokens_are_refused_by_the_parser(client: GraphQLClient, count: int) -> None:
    # when
    body = await post(client, {"query": many_tokens(count)})

    # then
    assert errors(body) == [("GRAPHQL_PARSE_FAILED", None)]
    assert body["data"] is None
    assert "more than 2000 tokens" in body["errors"][0]["message"]


@pytest.mark.parametrize(
    "query",
    [SYNTAX_ERROR, "{", "}", "query { viewer { id } } }", "mutation", "\u0000", "query { 😀 }"],
    ids=["unclosed", "open-brace", "close-brace", "extra-brace", "keyword", "nul", "emoji"],
)
async def test_a_syntax_error_is_a_parse_failure(client: GraphQLClient, query: str) -> None:
    # when
    body = await post(client, {"query": query})

    # then
    assert errors(body) == [("GRAPHQL_PARSE_FAILED", None)]
    assert body["data"] is None
    assert body["errors"][0]["message"].startswith("Syntax Error")


async def test_an_unknown_field_is_a_validation_failure(client: GraphQLClient) -> None:
    # when
    body = await post(client, {"query": UNKNOWN_FIELD})

    # then
    assert errors(body) == [("GRAPHQL_VALIDATION_FAILED", None)]
    assert body["data"] is None
    assert body["errors"][0]["message"] == "Cannot query field 'passwordHash' on type 'User'."


async def test_an_unknown_argument_is_a_validation_failure(client: GraphQLClient) -> None:
    # when
    body = await post(client, {"query": UNKNOWN_ARGUMENT})

    # then
    assert errors(body) == [("GRAPHQL_VALIDATION_FAILED", None)]
    assert body["data"] is None


async def test_a_fragment_cycle_is_a_validation_failure(client: GraphQLClient) -> None:
    # when
    body = await post(client, {"query": FRAGMENT_CYCLE})

    # then
    assert errors(body) == [("GRAPHQL_VALIDATION_FAILED", None)]
    assert body["data"] is None


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        (WORKSPACE, {"id": {"nested": "object"}}),
        (WORKSPACE, {"id": ["a", "list"]}),
        (WORKSPACE, {"id": True}),
        (WORKSPACE, {"id": None}),
        (WORKSPACE, {}),
        (MY_WORKSPACES, {"first": "ten"}),
        (MY_WORKSPACES, {"first": 1.5}),
        (MY_WORKSPACES, {"first": 2**40}),
        (CREATE_CHAT, {"ws": "x", "title": 42}),
        (CREATE_CHAT, {"ws": "x", "title": {"a": 1}}),
    ],
    ids=[
        "id-object",
        "id-list",
        "id-bool",
        "id-null",
        "id-missing",
        "int-string",
        "int-float",
        "int-64-bit",
        "string-number",
        "string-object",
    ],
)
async def test_a_variable_of_the_wrong_type_is_bad_user_input(
    client: GraphQLClient, alice: SignedIn, query: str, variables: dict[str, Any]
) -> None:
    # when
    body = await post(client, {"query": query, "variables": variables}, alice.access_token)

    # then
    assert errors(body) == [("BAD_USER_INPUT", None)]
    assert body["data"] is None
    assert body["errors"][0]["message"].startswith("Variable '$")


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        ("query($f: Int) { viewer { id } }", {"f": 1}),
        ("query { workspace(id: $id) { id } }", {"id": "x"}),
        ("query($id: Int) { workspace(id: $id) { id } }", {"id": 1}),
        ("query($u: User) { viewer { id } }", {}),
    ],
    ids=["unused", "undefined", "wrong-position", "output-type"],
)
async def test_a_misused_variable_is_a_validation_failure(
    client: GraphQLClient, query: str, variables: dict[str, Any]
) -> None:
    # when: the document itself is wrong, whatever values come with it
    body = await post(client, {"query": query, "variables": variables})

    # then
    assert {code for code, _ in errors(body)} == {"GRAPHQL_VALIDATION_FAILED"}
    assert body["data"] is None


@pytest.mark.parametrize(
    "query",
    [
        "query { workspace(id: " + "[" * 600 + '"x"' + "]" * 600 + ") { id } }",
        "query { " + "viewer { " * 600 + "id" + " }" * 600 + " }",
    ],
    ids=["nested-list-value", "nested-selections"],
)
async def test_a_document_nested_too_deeply_is_a_parse_failure(
    client: GraphQLClient, query: str
) -> None:
    # when
    body = await post(client, {"query": query})

    # then
    assert errors(body) == [("GRAPHQL_PARSE_FAILED", None)]
    assert body["data"] is None


async def test_a_wrong_variable_type_in_a_mutation_changes_nothing(
    client: GraphQLClient, alice: SignedIn
) -> None:
    # when
    body = await post(
        client,
        {
            "query": CREATE_WORKSPACE,
            "variables": {"name": ["not", "a", "string"]},
        },
        alice.access_token,
    )

    # then
    assert errors(body) == [("BAD_USER_INPUT", None)]
    workspaces = await client.data(MY_WORKSPACES, token=alice.access_token)
    assert workspaces["viewer"]["workspaces"]["edges"] == []


async def raw_post(client: GraphQLClient, content: bytes, content_type: str) -> httpx.Response:
    return await client.http.post(
        "/graphql", content=content, headers={"content-type": content_type}
    )


@pytest.mark.parametrize(
    ("content", "content_type", "reason"),
    [
        (b"not json", "application/json", "Unable to parse request body as JSON"),
        (
            b'{"query": "{ viewer { id } }"',
            "application/json",
            "Unable to parse request body as JSON",
        ),
        (b"\xff\xfe\x00garbage", "application/json", "Unable to parse request body as JSON"),
        (b"", "application/json", "Unable to parse request body as JSON"),
        (b"\x80abc", "application/json", "Unable to parse request body as JSON"),
        (
            b"[" * 100_000 + b"]" * 100_000,
            "application/json",
            "Unable to parse request body as JSON",
        ),
        (
            b'{"query": "{ viewer { id } }", "variables": {"a": 1' + b"0" * 5000 + b"}}",
            "application/json",
            "Unable to parse request body as JSON",
        ),
        (b"{}", "application/json", "No GraphQL query found in the request"),
        (b'{"query": null}', "application/json", "No GraphQL query found in the request"),
        (b"null", "application/json", "Expected a JSON object."),
        (b"42", "application/json", "Expected a JSON object."),
        (b'"query { viewer { id } }"', "application/json", "Expected a JSON object."),
        (b"true", "application/json", "Expected a JSON object."),
        (
            b'{"query": 42}',
            "application/json",
            "The GraphQL operation's `query` must be a string or null, if provided.",
        ),
        (
            b'{"query": ["viewer"]}',
            "application/json",
            "The GraphQL operation's `query` must be a string or null, if provided.",
        ),
        (
            b'{"query": {"viewer": "id"}}',
            "application/json",
            "The GraphQL operation's `query` must be a string or null, if provided.",
        ),
        (
            b'{"query": "{ viewer { id } }", "variables": "x"}',
            "application/json",
            "The GraphQL operation's `variables` must be an object or null, if provided.",
        ),
        (
            b'[{"query": "{ viewer { id } }"}]',
            "application/json",
            "Batching is not enabled",
        ),
        (b'{"query": "{ viewer { id } }"}', "text/plain", "Unsupported content type"),
        (b"query { viewer { id } }", "application/graphql", "Unsupported content type"),
    ],
    ids=[
        "not-json",
        "truncated-json",
        "binary",
        "empty-body",
        "invalid-utf8",
        "deeply-nested",
        "huge-integer",
        "empty-object",
        "null-query",
        "json-null",
        "json-number",
        "json-string",
        "json-true",
        "query-number",
        "query-list",
        "query-object",
        "variables-string",
        "batch",
        "text-plain",
        "application-graphql",
    ],
)
async def test_a_malformed_request_body_is_a_400(
    client: GraphQLClient, content: bytes, content_type: str, reason: str
) -> None:
    # when
    response = await raw_post(client, content, content_type)

    # then
    assert response.status_code == 400
    assert response.text == reason


@pytest.mark.parametrize(
    ("operations", "files_map"),
    [("null", "{}"), ("42", "{}"), ('{"query": "{ viewer { id } }"}', "null")],
    ids=["null-operations", "number-operations", "null-map"],
)
async def test_a_malformed_multipart_envelope_is_a_400(
    client: GraphQLClient, operations: str, files_map: str
) -> None:
    # when
    response = await client.http.post(
        "/graphql", files={"operations": (None, operations), "map": (None, files_map)}
    )

    # then
    assert response.status_code == 400
    assert response.text == "Expected a JSON object."


async def test_an_unknown_operation_name_is_a_400(client: GraphQLClient) -> None:
    # when
    response = await client.http.post(
        "/graphql", json={"query": NAMED_OPERATION, "operationName": "B"}
    )

    # then
    assert response.status_code == 400
    assert response.text == 'Unknown operation named "B".'


async def test_a_query_over_get_works(client: GraphQLClient, alice: SignedIn) -> None:
    # when
    response = await client.http.get(
        "/graphql",
        params={"query": VIEWER},
        headers={"authorization": f"Bearer {alice.access_token}", "accept": "application/json"},
    )

    # then
    assert response.status_code == 200
    assert response.json() == {"data": {"viewer": {"id": alice.user_id}}}


async def test_a_mutation_over_get_is_refused_and_not_run(
    client: GraphQLClient, alice: SignedIn
) -> None:
    # when
    response = await client.http.get(
        "/graphql",
        params={"query": CREATE_WORKSPACE_INLINE},
        headers={"authorization": f"Bearer {alice.access_token}", "accept": "application/json"},
    )

    # then
    assert response.status_code == 400
    assert response.text == "mutations are not allowed when using GET"
    workspaces = await client.data(MY_WORKSPACES, token=alice.access_token)
    assert workspaces["viewer"]["workspaces"]["edges"] == []


async def test_a_subscription_over_plain_http_is_refused(client: GraphQLClient) -> None:
    # when
    response = await client.http.post("/graphql", json={"query": DOCUMENT_EVENTS})

    # then: a client mistake, not an internal error
    assert response.status_code == 400
    assert response.text == "subscriptions are not allowed when using POST"


@pytest.fixture(scope="module")
async def production_address(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    data_dir: Path = tmp_path_factory.mktemp("production")
    settings = make_settings(
        data_dir,
        f"sqlite+aiosqlite:///{data_dir / 'ragql.sqlite3'}",
        env="production",
        jwt_secret=secrets.token_urlsafe(36),  # 48 characters
    )
    container = Container.build(settings)
    try:
        async with running_server(create_app(container=container)) as address:
            yield address
    finally:
        await container.close()


TYPO = "query { viewer { idd } }"


async def test_development_suggests_the_field_you_meant(client: GraphQLClient) -> None:
    # when
    body = await post(client, {"query": TYPO})

    # then
    assert errors(body) == [("GRAPHQL_VALIDATION_FAILED", None)]
    assert (
        body["errors"][0]["message"]
        == "Cannot query field 'idd' on type 'User'. Did you mean 'id'?"
    )


@pytest.mark.parametrize(
    "query",
    [TYPO, 'query { workspace(idd: "x") { id } }', "query { viewer { workspace { id } } }"],
    ids=["field", "argument", "similar-name"],
)
async def test_production_gives_no_suggestions(production_address: str, query: str) -> None:
    # when
    async with httpx.AsyncClient(base_url=f"http://{production_address}") as http:
        response = await http.post("/graphql", json={"query": query})

    # then
    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None
    assert {code for code, _ in errors(body)} == {"GRAPHQL_VALIDATION_FAILED"}
    assert "Did you mean" not in json.dumps(body)


async def test_production_still_refuses_hostile_queries(production_address: str) -> None:
    # when
    async with httpx.AsyncClient(base_url=f"http://{production_address}") as http:
        deep = (await http.post("/graphql", json={"query": TOO_DEEP})).json()
        wide = (await http.post("/graphql", json={"query": aliases(31)})).json()
        long = (await http.post("/graphql", json={"query": many_tokens(2100)})).json()
        broken = await http.post(
            "/graphql", content=b"{", headers={"content-type": "application/json"}
        )

    # then
    assert errors(deep) == [("GRAPHQL_VALIDATION_FAILED", None)]
    assert errors(wide) == [("GRAPHQL_VALIDATION_FAILED", None)]
    assert errors(long) == [("GRAPHQL_PARSE_FAILED", None)]
    assert broken.status_code == 400
