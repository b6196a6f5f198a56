"""The Cross-Account Protection event types auth acts on or notes (docs/google.md §11): what
`calsync risc register` asks Google to send (via ``GET /api/v1/risc``), and their short names."""

from __future__ import annotations

PREFIX = "https://schemas.openid.net/secevent/"

EVENTS_REQUESTED = tuple(
    PREFIX + name
    for name in (
        "oauth/event-type/token-revoked",
        "oauth/event-type/tokens-revoked",
        "risc/event-type/account-disabled",
        "risc/event-type/account-enabled",
        "risc/event-type/sessions-revoked",
        "risc/event-type/account-credential-change-required",
        "risc/event-type/verification",
    )
)


def short_name(event_type: str) -> str:
    """``.../risc/event-type/account-disabled`` -> ``account-disabled``."""
    return event_type.removeprefix(PREFIX).rpartition("/")[2]
