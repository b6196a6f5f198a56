"""What a failed write means for the appointment (docs/google.md §6), and when to try again (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

Reaction = Literal["backoff", "refresh_token", "needs_consent", "calendar_unavailable", "failed"]

# classify() results of shared.google.calendar, by what sync does next
_BACKOFF = {"rate_limit", "quota", "transient", "duplicate", "precondition_failed"}
_CALENDAR = {"no_writer_access", "not_found", "gone"}


@dataclass(frozen=True)
class Backoff:
    """Truncated exponential backoff with jitter: ``min(cap, base * 2**attempt) + jitter * base``."""

    base: float = 1.0
    cap: float = 64.0
    quota_minimum: float = 300.0  # quotaExceeded: Google gives no advice; wait minutes

    def delay(self, attempt: int, jitter: float, *, retry_after: float | None = None) -> float:
        """Seconds until the next try; ``jitter`` in [0, 1); Google's Retry-After wins if longer."""
        planned = min(self.cap, self.base * 2.0 ** max(0, attempt)) + jitter * self.base
        return max(planned, retry_after or 0.0)

    def due(
        self, now: datetime, attempt: int, jitter: float, *, kind: str, retry_after: float | None
    ) -> datetime:
        seconds = self.delay(attempt, jitter, retry_after=retry_after)
        if kind == "quota":
            seconds = max(seconds, self.quota_minimum)
        return now + timedelta(seconds=seconds)


def reaction(kind: str) -> Reaction:
    """What to do about a Google error of ``kind`` (see ``shared.google.calendar.classify``) met
    while writing to the user's calendar (event-level 404/410 are handled before this)."""
    if kind == "auth":
        return "refresh_token"
    if kind == "insufficient_permissions":
        return "needs_consent"
    if kind in _CALENDAR:
        return "calendar_unavailable"
    if kind in _BACKOFF:
        return "backoff"
    return "failed"


def describe(status: int | None, reason: str | None) -> str:
    """A short, secret-free text for the sync state: ``google 400 invalid``."""
    if status is None:
        return "google unreachable"
    return f"google {status} {reason or 'error'}"
