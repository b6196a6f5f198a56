"""Why a pending appointment is not in Google yet, as the sync-state API explains it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from services.sync.usecases.sync_state import why_pending


def row(**changes: Any) -> dict[str, Any]:
    base = {
        "grant_state": "connected", "calendar_problem": None, "user_calendar": "cal",
        "wait_reason": None, "last_error": None, "due_at": datetime(2026, 1, 5, 9, 0, tzinfo=UTC),
    }  # fmt: skip
    return {**base, **changes}


def test_the_most_fundamental_reason_comes_first() -> None:
    """No connection beats a calendar problem, which beats a missing calendar and a backoff."""
    assert why_pending(row(grant_state=None, calendar_problem="needs_consent")) == "no Google connection yet"
    assert "disconnected" in why_pending(row(grant_state="disconnected"))
    assert "needs_consent" in why_pending(row(calendar_problem="needs_consent", user_calendar=None))
    assert why_pending(row(user_calendar=None)) == "waiting for the destination calendar"


def test_a_backoff_names_google_s_answer_and_the_next_try() -> None:
    """Rate limits and outages say what Google answered and when sync tries again."""
    why = why_pending(row(wait_reason="rate_limited", last_error="google 429 rateLimitExceeded"))
    assert why == "rate_limited: google 429 rateLimitExceeded; next try at 2026-01-05T09:00:00+00:00"
    assert why_pending(row()) == "queued for writing"
