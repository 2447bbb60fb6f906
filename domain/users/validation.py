"""Normalising what people type into sign-up forms."""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email

from domain.errors import BadUserInput

MAX_DISPLAY_NAME = 100


def normalise_email(email: str) -> str:
    try:
        result = validate_email(email.strip(), check_deliverability=False)
    except EmailNotValidError as error:
        raise BadUserInput("Enter a valid email address.", field="email") from error
    # Lower-case the whole address: one person, one account, whatever the capitalisation.
    return result.normalized.lower()


def clean_display_name(display_name: str) -> str:
    cleaned = " ".join(display_name.split())
    if not cleaned:
        raise BadUserInput("Display name must not be empty.", field="displayName")
    if len(cleaned) > MAX_DISPLAY_NAME:
        raise BadUserInput(
            f"Display name must be at most {MAX_DISPLAY_NAME} characters.", field="displayName"
        )
    return cleaned
