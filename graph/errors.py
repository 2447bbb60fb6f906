"""Every error leaves with `extensions.code`; anything unexpected is masked and logged."""

from __future__ import annotations

import logging
import re

from graphql import GraphQLError, GraphQLSyntaxError

from domain.errors import DomainError

logger = logging.getLogger("ragql.graph")

INTERNAL_MESSAGE = "Internal server error."
PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
BAD_USER_INPUT = "BAD_USER_INPUT"
_SUGGESTION = re.compile(r"\s*Did you mean .*$", re.DOTALL)
# Coercing the request's variables, as opposed to validation rules such as "Variable '$x'
# is never used." or "... used in position expecting type ...", which also name a variable.
_VARIABLE_COERCION = re.compile(
    r"^Variable '\$[^']*' (has invalid|got invalid value|of required type|of non-null type)"
    r"|^Variable values are nested too deeply"
    r"|^Too many errors processing variables"
)


def shape_error(error: GraphQLError, *, hide_suggestions: bool) -> None:
    """Give `error` its code in place (Strawberry serialises the same object afterwards)."""
    original = error.original_error
    if isinstance(original, DomainError):
        extensions: dict[str, object] = {"code": original.code}
        if original.field:
            extensions["field"] = original.field
        error.message = original.message
        error.extensions = extensions
        return
    if original is None or isinstance(original, GraphQLError):
        if error.extensions and "code" in error.extensions:
            return
        error.extensions = {**(error.extensions or {}), "code": _request_error_code(error)}
        if hide_suggestions:
            error.message = _SUGGESTION.sub("", error.message)
        return
    logger.error(
        "unexpected error at %s: %s",
        ".".join(str(p) for p in error.path or ()) or "<operation>",
        original,
        exc_info=(type(original), original, original.__traceback__),
    )
    error.message = INTERNAL_MESSAGE
    error.extensions = {"code": "INTERNAL_SERVER_ERROR"}
    error.original_error = None


def _request_error_code(error: GraphQLError) -> str:
    # graphql-core has no error classes for these phases; the message shapes are stable.
    if isinstance(error, GraphQLSyntaxError) or error.message.startswith("Syntax Error"):
        return PARSE_FAILED
    if _VARIABLE_COERCION.match(error.message):
        return BAD_USER_INPUT
    return VALIDATION_FAILED
