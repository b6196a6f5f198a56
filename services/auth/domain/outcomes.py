"""What the OAuth callback ended in: the result page renders one of these."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

OutcomeKind = Literal[
    "connected",  # first connection
    "reconnected",  # the grant was replaced in place
    "denied",  # the user cancelled on Google's screen: nothing changed
    "missing_scopes",  # a calendar box was left unticked: nothing stored
    "google_error",  # Google refused (admin policy, used code, ...): nothing stored
    "unavailable",  # Google could not be reached: nothing stored, try again
    "invalid_state",  # forged, unknown, expired, replayed or from another browser
]


@dataclass(frozen=True)
class Outcome:
    kind: OutcomeKind
    locale: str | None
    user_id: str | None = None
    status: int = 200
    google_email: str | None = None
    previous_email: str | None = None
    account_changed: bool = False
    missing: tuple[str, ...] = ()
    error: str | None = None

    def but(self, kind: OutcomeKind, **changes: Any) -> Outcome:
        return replace(self, kind=kind, **changes)
