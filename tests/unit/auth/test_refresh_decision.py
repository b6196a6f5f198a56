"""What one refresh attempt changes: new state, next due time, events, incidents and the token answer."""

from __future__ import annotations

from datetime import timedelta

from services.auth.domain import refresh_decision
from services.auth.domain.oauth_types import OAuthError, TokenResponse
from services.auth.domain.refresh_decision import BreakerWindow, FailureClass, Verdict
from services.auth.domain.refresh_rules import RefreshSettings
from shared import messages as m
from tests.unit.auth.grant_rows import NOW, grant

SETTINGS = RefreshSettings()
DEAD = Verdict(FailureClass.DEAD, "revoked", "invalid_grant")


def test_a_working_refresh_schedules_the_next_and_publishes_nothing() -> None:
    """A refreshed idle grant is due again when its longest silence ends, answers with the new expiry, and emits no event."""
    decision = refresh_decision.decide(
        grant(), TokenResponse("at", 3600), now=NOW, settings=SETTINGS, jitter=0.5
    )
    assert decision.state == "refreshed"
    assert decision.answer.status == "token" and decision.answer.expires_at == NOW + timedelta(hours=1)
    assert decision.next_refresh_at is not None and decision.next_refresh_at - NOW > timedelta(hours=5)
    assert decision.events == () and decision.lead == 300.0


def test_a_refresh_of_a_held_grant_announces_its_recovery() -> None:
    """A grant the breaker held as dead that refreshes fine is announced as grant.connected (recovered)."""
    held = grant(verdict_pending_since=NOW - timedelta(minutes=1))
    decision = refresh_decision.decide(
        held, TokenResponse("at", 3600), now=NOW, settings=SETTINGS, jitter=0.0
    )
    (event,) = decision.events
    assert isinstance(event, m.GrantConnected) and event.cause == "recovered"


def test_a_dead_grant_is_disconnected_with_one_event() -> None:
    """invalid_grant with a closed breaker disconnects the grant and emits grant.disconnected with the reason."""
    window = BreakerWindow(open=False, since=NOW - timedelta(minutes=10), dead=0, attempted=100)
    decision = refresh_decision.decide(grant(), DEAD, now=NOW, settings=SETTINGS, jitter=0.0, breaker=window)
    assert decision.state == "disconnected" and decision.answer.status == "disconnected"
    (event,) = decision.events
    assert isinstance(event, m.GrantDisconnected)
    assert (event.reason, event.detected_by, event.google_email) == ("revoked", "refresh", "ada@example.com")


def test_a_burst_of_dead_grants_trips_the_breaker_and_holds_the_grant() -> None:
    """The death that makes the window's share unusual opens a circuit_open incident and holds the grant."""
    window = BreakerWindow(open=False, since=NOW - timedelta(minutes=10), dead=19, attempted=40)
    decision = refresh_decision.decide(grant(), DEAD, now=NOW, settings=SETTINGS, jitter=0.0, breaker=window)
    assert decision.state == "held" and decision.events == ()
    assert decision.incident is not None and decision.incident.kind == "circuit_open"
    assert decision.next_refresh_at == NOW + timedelta(seconds=SETTINGS.retry_max)


def test_an_open_breaker_holds_without_a_second_incident() -> None:
    """While the breaker is open, dead grants are held and no further incident is raised."""
    window = BreakerWindow(open=True, since=NOW, dead=0, attempted=0)
    decision = refresh_decision.decide(grant(), DEAD, now=NOW, settings=SETTINGS, jitter=0.0, breaker=window)
    assert decision.state == "held" and decision.incident is None
    assert decision.answer.outcome == "pending_verdict"


def test_transient_failures_back_off_and_app_wide_ones_alert() -> None:
    """A transient failure only backs off; an app-wide one also opens an app_config incident."""
    transient = Verdict(FailureClass.TRANSIENT, None, "server_error")
    backoff = refresh_decision.decide(
        grant(refresh_failures=2), transient, now=NOW, settings=SETTINGS, jitter=0.5
    )
    assert (backoff.state, backoff.failures, backoff.incident) == ("backoff", 3, None)
    assert backoff.next_refresh_at == NOW + timedelta(seconds=120)
    app_wide = Verdict(FailureClass.APP_WIDE, None, "invalid_client")
    alert = refresh_decision.decide(grant(), app_wide, now=NOW, settings=SETTINGS, jitter=0.5)
    assert alert.incident is not None and alert.incident.kind == "app_config" and alert.events == ()


def test_only_deaths_google_could_be_wrong_about_consult_the_breaker() -> None:
    """An expired time-limited grant is disconnected without asking the breaker; a revoked one asks."""
    expired = refresh_decision.classify(
        OAuthError("invalid_grant", None, 400, "Token has been expired or revoked."),
        refresh_token_expires_at=NOW - timedelta(seconds=1),
        now=NOW,
    )
    assert expired.reason == "access_expired" and not refresh_decision.consults_breaker(expired)
    assert refresh_decision.consults_breaker(DEAD) and not refresh_decision.consults_breaker(
        TokenResponse("at", 3600)
    )
