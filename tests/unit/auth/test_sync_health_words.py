"""The settings page's sync health in plain words: the most fundamental reason first, counted
correctly in German and English, and "last copied" measured from the given moment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.auth.domain import sync_health
from services.auth.entrypoints.calendar_texts import TEXTS, say

NOW = datetime(2026, 3, 2, 8, 15, tzinfo=UTC)
HEALTHY = {"grant_state": "connected", "calendar_id": "anna@gmail.com", "pending": 0, "failed": 0}


def _words(locale: str = "en", auth_state: str = "connected", **health: Any) -> str:
    return say(sync_health.waiting({**HEALTHY, **health}, auth_state), locale)


@pytest.mark.parametrize(
    ("auth_state", "health", "text"),
    [
        ("connected", {}, "All appointments are in your calendar."),
        ("connected", {"pending": 1}, "1 appointment is being copied to your calendar."),
        ("disconnected", {"pending": 3}, "3 appointments are waiting until you reconnect."),
        (
            "connected",
            {"grant_state": "disconnected", "pending": 2},
            "2 appointments are waiting until you reconnect.",
        ),
        ("disconnected", {}, "New appointments will wait until you reconnect."),
        ("suspended", {"pending": 2}, "2 appointments are waiting until Google unlocks your account."),
        (
            "connected",
            {"pending": 2, "calendar_problem": {"problem": "calendar_unavailable"}},
            "2 appointments are waiting for a calendar you can write to. Please choose one below.",
        ),
        (
            "connected",
            {"pending": 1, "calendar_problem": {"problem": "needs_consent"}},
            "1 appointment is waiting: please reconnect and allow editing events on Google's page.",
        ),
        (
            "connected",
            {"calendar_id": None, "pending": 2},
            "Your calendar is being set up; 2 appointments follow shortly.",
        ),
        (
            "connected",
            {
                "pending": 4,
                "last_success_at": "2026-03-02T08:00:00+00:00",
                "last_failure_at": "2026-03-02T08:10:00+00:00",
            },
            "4 appointments are waiting: Google is not answering right now. We keep trying on our own.",
        ),
    ],
)
def test_each_state_reads_plainly(auth_state: str, health: dict[str, Any], text: str) -> None:
    """Every reason an appointment waits has its own sentence, singular or plural."""
    assert _words("en", auth_state, **health) == text


def test_german_counts_and_reasons() -> None:
    """German reads as naturally as English."""
    assert _words("de", "disconnected", pending=3) == "3 Termine warten, bis Sie die Verbindung erneuern."
    assert _words("de", pending=1) == "1 Termin wird gerade in Ihren Kalender übertragen."


@pytest.mark.parametrize(
    ("ago", "text"),
    [
        (timedelta(seconds=20), "Last copied just now."),
        (timedelta(minutes=1, seconds=5), "Last copied 1 minute ago."),
        (timedelta(minutes=5), "Last copied 5 minutes ago."),
        (timedelta(hours=3), "Last copied 3 hours ago."),
        (timedelta(days=4), "Last copied 4 days ago."),
    ],
)
def test_last_copied_is_measured_from_now(ago: timedelta, text: str) -> None:
    """The last success is said relative to the page's moment, never in raw timestamps."""
    health = {**HEALTHY, "last_success_at": (NOW - ago).isoformat()}
    assert [say(s, "en") for s in sync_health.details(health, NOW)] == [text]


def test_refused_appointments_are_counted() -> None:
    """Appointments Google rejected are named, since they will not appear by themselves."""
    lines = [say(s, "de") for s in sync_health.details({**HEALTHY, "failed": 2}, NOW)]
    assert lines == ["2 Termine hat Google abgelehnt; sie stehen nicht in Ihrem Kalender."]


def test_both_languages_have_every_sentence() -> None:
    """No sentence exists in one language only."""
    assert TEXTS["de"].keys() == TEXTS["en"].keys()
