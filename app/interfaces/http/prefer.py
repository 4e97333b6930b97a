"""`Prefer: respond-async` (RFC 7240): answer 202 at once and do the work after the response."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Header

ASYNC_APPLIED = {"Preference-Applied": "respond-async", "Location": "/v1/books/current"}

PreferHeader = Annotated[
    str | None,
    Header(
        alias="Prefer",
        description="`respond-async`: answer 202 at once; follow the work on the event stream "
        "(GET /v1/books/current/events) or by polling GET /v1/books/current.",
    ),
]

ASYNC_RESPONSE: dict[str, Any] = {
    "description": "Accepted (`Prefer: respond-async`): the work goes on after the response.",
    "headers": {
        "Preference-Applied": {"schema": {"type": "string", "enum": ["respond-async"]}},
        "Location": {"schema": {"type": "string"}},
    },
}


def wants_async(prefer: str | None) -> bool:
    """True when one of the preferences is respond-async (others, and parameters, are ignored)."""
    if not prefer:
        return False
    for preference in prefer.split(","):
        name = preference.split(";", 1)[0].strip().lower()
        if name == "respond-async":
            return True
    return False
