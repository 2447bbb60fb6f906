"""The mails ragql sends, as plain text. User-controlled values are flattened to one line:
in the subject (a header) a CR or LF would start a header of the attacker's choosing."""

from __future__ import annotations

from dataclasses import dataclass

MAX_SUBJECT = 200
MAX_NAME_IN_SUBJECT = 100
MAX_VALUE = 2_000


@dataclass(frozen=True, slots=True)
class Mail:
    subject: str
    body: str


def one_line(value: str, limit: int = MAX_VALUE) -> str:
    """`value` without line breaks or other control characters (CR, LF, NEL, U+2028,
    tabs...), whitespace runs collapsed, and cut to `limit` characters with an ellipsis."""
    printable = "".join(ch if ch.isprintable() else " " for ch in value)
    flat = " ".join(printable.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def subject_line(value: str) -> str:
    return one_line(value, MAX_SUBJECT)


def document_failed(*, filename: str, workspace_name: str, reason: str) -> Mail:
    name = one_line(filename)
    workspace = one_line(workspace_name)
    body = (
        f'Your document "{name}" in the workspace "{workspace}" could not be ingested, '
        "so it cannot be searched or cited in answers.\n"
        "\n"
        f"Reason: {one_line(reason) or 'not given'}\n"
        "\n"
        "You can fix the file and upload it again, or delete it from the workspace.\n"
    )
    return Mail(
        subject_line(
            f"Your document {one_line(filename, MAX_NAME_IN_SUBJECT)} could not be ingested"
        ),
        body,
    )


def member_added(
    *, workspace_name: str, role: str, added_by_name: str, added_by_email: str
) -> Mail:
    workspace = one_line(workspace_name)
    role_name = one_line(role, 16)
    who = f"{one_line(added_by_name, 100)} ({one_line(added_by_email, 320)})"
    body = (
        f'{who} added you to the workspace "{workspace}" as {role_name}.\n'
        "\n"
        "Sign in to ragql to see it in your list of workspaces.\n"
    )
    return Mail(
        subject_line(
            f"You were added to workspace {one_line(workspace_name, MAX_NAME_IN_SUBJECT)}"
            f" as {role_name}"
        ),
        body,
    )
