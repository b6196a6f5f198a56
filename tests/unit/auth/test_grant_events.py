"""The grant.* messages auth publishes never hand a hijacked account's email to anyone."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from services.auth.domain import grant_events
from tests.unit.auth.grant_rows import grant

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def test_a_hijacked_account_is_suspended_and_disconnected_without_its_email() -> None:
    """Suspension for hijacking and a later disconnect carry no Google email."""
    hijacked = replace(grant().grant, hijacked=True)
    assert grant_events.suspended(hijacked, hijacking=True, since=NOW).google_email is None
    event = grant_events.disconnected(hijacked, reason="revoked", detected_by="security_event", since=NOW)
    assert event.google_email is None and event.reason == "revoked"


def test_a_suspension_not_for_hijacking_names_the_mailbox() -> None:
    """A disabled (not hijacked) account's suspension names the email the notice goes to."""
    event = grant_events.suspended(grant().grant, hijacking=False, since=NOW)
    assert (event.google_email, event.user_id, event.grant_id) == ("ada@example.com", "u1", "g1")


def test_deleting_names_the_cause() -> None:
    """grant.deleted says whether the user asked or the platform deleted the user."""
    assert grant_events.deleted(grant().grant, cause="user_deleted").cause == "user_deleted"
