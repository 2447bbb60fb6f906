"""Error shaping: every error has a code; unexpected ones are masked and logged."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from graphql import GraphQLError, build_schema, graphql_sync, parse
from sqlalchemy import text

from domain.container import Container
from domain.db.migrate import migrate
from domain.errors import (
    BadUserInput,
    Conflict,
    DomainError,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    Unauthenticated,
    UnsupportedMediaType,
)
from graph.app import create_app
from graph.errors import INTERNAL_MESSAGE, shape_error
from tests.conftest import make_settings
from tests.support.client import GraphQLClient, SignedIn, errors
from tests.support.server import running_server

SESSIONS = """
query Sessions($id: ID!) {
  workspace(id: $id) { id sessions { edges { node { id } } } }
}
"""
WORKSPACE = "query Workspace($id: ID!) { workspace(id: $id) { id name } }"
BROKEN_AND_FINE = """
query Both($id: ID!) {
  broken: workspace(id: $id) { sessions { edges { node { id } } } }
  fine: workspace(id: $id) { name }
}
"""
NO_SUCH_WORKSPACE = "00000000-0000-7000-8000-000000000000"


@dataclass
class BrokenServer:
    client: GraphQLClient
    user: SignedIn
    workspace_id: str


@pytest.fixture(scope="module")
async def broken_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[BrokenServer]:
    """A server of its own whose database lost the chat_sessions table."""
    data_dir: Path = tmp_path_factory.mktemp("broken")
    url = f"sqlite+aiosqlite:///{data_dir / 'broken.sqlite3'}"
    await migrate(url)
    container = Container.build(make_settings(data_dir, url))
    try:
        async with running_server(create_app(container=container)) as address:
            client = GraphQLClient(address)
            try:
                user = await client.register("alice")
                workspace_id = await client.create_workspace(user, "Research")
                async with container.engine.begin() as connection:
                    await connection.execute(text("DROP TABLE chat_sessions"))
                yield BrokenServer(client, user, workspace_id)
            finally:
                await client.close()
    finally:
        await container.close()


async def test_an_unexpected_failure_is_masked_and_logged(
    broken_server: BrokenServer, caplog: pytest.LogCaptureFixture
) -> None:
    # given
    caplog.set_level(logging.ERROR, logger="ragql.graph")

    # when
    response = await broken_server.client.http.post(
        "/graphql",
        json={"query": SESSIONS, "variables": {"id": broken_server.workspace_id}},
        headers={"authorization": f"Bearer {broken_server.user.access_token}"},
    )

    # then: the client learns nothing about the cause
    assert response.status_code == 200
    body = response.json()
    assert errors(body) == [("INTERNAL_SERVER_ERROR", None)]
    assert body["errors"][0]["message"] == INTERNAL_MESSAGE == "Internal server error."
    assert body["errors"][0]["path"] == ["workspace", "sessions"]
    assert body["data"] == {"workspace": None}
    assert "chat_sessions" not in response.text
    assert "Traceback" not in response.text
    # and the log has it all
    records = [r for r in caplog.records if r.name == "ragql.graph"]
    assert [r.levelno for r in records] == [logging.ERROR]
    assert records[0].getMessage().startswith("unexpected error at workspace.sessions: ")
    assert "no such table: chat_sessions" in records[0].getMessage()
    assert records[0].exc_info is not None
    assert "chat_sessions" in caplog.text


async def test_the_rest_of_the_response_survives_a_failed_field(
    broken_server: BrokenServer,
) -> None:
    # when: one root field fails, the other does not
    body = await broken_server.client.execute(
        BROKEN_AND_FINE, {"id": broken_server.workspace_id}, broken_server.user.access_token
    )

    # then
    assert errors(body) == [("INTERNAL_SERVER_ERROR", None)]
    assert body["data"] == {"broken": None, "fine": {"name": "Research"}}


async def test_an_expected_error_is_not_logged(
    broken_server: BrokenServer, caplog: pytest.LogCaptureFixture
) -> None:
    # given
    caplog.set_level(logging.DEBUG, logger="ragql.graph")

    # when
    body = await broken_server.client.execute(
        WORKSPACE, {"id": NO_SUCH_WORKSPACE}, broken_server.user.access_token
    )

    # then
    assert errors(body) == [("NOT_FOUND", None)]
    assert [r for r in caplog.records if r.name == "ragql.graph"] == []


# Unit tests of shape_error on real graphql-core errors from a small schema.

SDL = """
type Query {
  hello(name: String!): String
  fails(kind: String!): String
  count(n: Int): Int
}
"""


def _fail(_root: Any, _info: Any, kind: str) -> str:
    raise {
        "not-found": NotFound("Workspace not found."),
        "bad-input": BadUserInput("Name must not be empty.", field="name"),
        "conflict": Conflict("Already a member.", field="email"),
        "bug": ZeroDivisionError("division by zero in secret_module.py"),
    }[kind]


SCHEMA = build_schema(SDL)
SCHEMA.get_type("Query").fields["fails"].resolve = _fail  # type: ignore[union-attr]


def raised(query: str, variables: dict[str, Any] | None = None) -> GraphQLError:
    """The one error graphql-core reports for `query`."""
    result = graphql_sync(SCHEMA, query, variable_values=variables)
    assert result.errors is not None and len(result.errors) == 1, result
    return result.errors[0]


def shaped(error: GraphQLError, *, hide_suggestions: bool = False) -> dict[str, Any]:
    shape_error(error, hide_suggestions=hide_suggestions)
    formatted: dict[str, Any] = error.formatted
    return {"message": formatted["message"], "extensions": formatted.get("extensions")}


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        (
            "not-found",
            {"message": "Workspace not found.", "extensions": {"code": "NOT_FOUND"}},
        ),
        (
            "bad-input",
            {
                "message": "Name must not be empty.",
                "extensions": {"code": "BAD_USER_INPUT", "field": "name"},
            },
        ),
        (
            "conflict",
            {"message": "Already a member.", "extensions": {"code": "CONFLICT", "field": "email"}},
        ),
    ],
)
def test_a_domain_error_keeps_its_message_and_gets_its_code_and_field(
    kind: str, expected: dict[str, Any]
) -> None:
    # given
    error = raised(f'{{ fails(kind: "{kind}") }}')

    # when / then
    assert shaped(error) == expected


@pytest.mark.parametrize(
    "domain_error",
    [
        Unauthenticated("u"),
        Forbidden("f"),
        NotFound("n"),
        BadUserInput("b"),
        Conflict("c"),
        PayloadTooLarge("p"),
        UnsupportedMediaType("m"),
        RateLimited("r"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_every_domain_error_class_maps_to_its_code(domain_error: DomainError) -> None:
    # given
    error = GraphQLError("wrapped", original_error=domain_error)

    # when
    shape_error(error, hide_suggestions=True)

    # then
    assert error.message == domain_error.message
    assert error.extensions == {"code": domain_error.code}


def test_an_unexpected_exception_is_masked_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    # given
    caplog.set_level(logging.ERROR, logger="ragql.graph")
    error = raised('{ fails(kind: "bug") }')

    # when
    result = shaped(error)

    # then
    assert result == {
        "message": "Internal server error.",
        "extensions": {"code": "INTERNAL_SERVER_ERROR"},
    }
    assert error.original_error is None
    assert "secret_module" not in json.dumps(error.formatted)
    [record] = [r for r in caplog.records if r.name == "ragql.graph"]
    assert record.levelno == logging.ERROR
    assert record.getMessage() == (
        "unexpected error at fails: division by zero in secret_module.py"
    )
    assert record.exc_info is not None and record.exc_info[0] is ZeroDivisionError


@pytest.mark.parametrize(
    "query",
    ["{ hello(name: ", "}", "query { hello(name: 1 }", '{ hello(name: "unterminated) }'],
)
def test_a_syntax_error_is_a_parse_failure(query: str) -> None:
    # given
    error = raised(query)

    # when / then
    assert shaped(error)["extensions"] == {"code": "GRAPHQL_PARSE_FAILED"}


def test_a_parse_error_with_any_message_is_a_parse_failure() -> None:
    # given: the real syntax error class, whatever its text says
    with pytest.raises(GraphQLError) as raised_error:
        parse("{")
    error = raised_error.value
    error.message = "Unexpected end of the document."

    # when / then
    assert shaped(error)["extensions"] == {"code": "GRAPHQL_PARSE_FAILED"}


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        ("query($n: Int) { count(n: $n) }", {"n": "ten"}),
        ("query($n: Int) { count(n: $n) }", {"n": 2**40}),
        ("query($name: String!) { hello(name: $name) }", {}),
        ("query($name: String!) { hello(name: $name) }", {"name": None}),
        ("query($name: String!) { hello(name: $name) }", {"name": {"a": 1}}),
    ],
    ids=["string-for-int", "int-overflow", "missing", "null", "object-for-string"],
)
def test_a_variable_that_cannot_be_coerced_is_bad_user_input(
    query: str, variables: dict[str, Any]
) -> None:
    # given
    error = raised(query, variables)

    # when / then
    assert shaped(error)["extensions"] == {"code": "BAD_USER_INPUT"}


@pytest.mark.parametrize(
    "query",
    [
        "{ helo }",
        "{ hello }",
        '{ hello(name: "a", nam: "b") }',
        "query($n: Int) { count }",
        "{ count(n: $n) }",
        'query($name: Int) { hello(name: "x") count(n: $name) hello2: hello(name: $name) }',
        '{ count(n: "ten") }',
    ],
    ids=[
        "unknown-field",
        "missing-argument",
        "unknown-argument",
        "unused-variable",
        "undefined-variable",
        "variable-in-wrong-position",
        "wrong-literal",
    ],
)
def test_an_invalid_document_is_a_validation_failure(query: str) -> None:
    # given
    result = graphql_sync(SCHEMA, query)
    assert result.errors

    # when / then
    for error in result.errors:
        assert shaped(error)["extensions"] == {"code": "GRAPHQL_VALIDATION_FAILED"}


def test_suggestions_are_kept_in_development() -> None:
    # given
    error = raised("{ helo }")

    # when / then
    assert shaped(error, hide_suggestions=False)["message"] == (
        "Cannot query field 'helo' on type 'Query'. Did you mean 'hello'?"
    )


def test_suggestions_are_removed_in_production() -> None:
    # given
    error = raised("{ helo }")

    # when / then
    assert shaped(error, hide_suggestions=True)["message"] == (
        "Cannot query field 'helo' on type 'Query'."
    )


def test_an_existing_code_is_left_alone() -> None:
    # given: an error that already carries a code, with other extensions
    error = GraphQLError("Too many aliases.", extensions={"code": "CUSTOM", "limit": 30})

    # when
    shape_error(error, hide_suggestions=True)

    # then
    assert error.message == "Too many aliases."
    assert error.extensions == {"code": "CUSTOM", "limit": 30}


def test_other_extensions_are_kept_when_a_code_is_added() -> None:
    # given
    error = GraphQLError("Cannot query field 'x' on type 'Query'.", extensions={"hint": 1})

    # when
    shape_error(error, hide_suggestions=False)

    # then
    assert error.extensions == {"hint": 1, "code": "GRAPHQL_VALIDATION_FAILED"}
