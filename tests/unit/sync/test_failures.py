"""How sync reacts to Google's errors and how long it waits before trying again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.sync.domain.failures import Backoff, reaction


def test_each_google_error_class_has_its_reaction() -> None:
    """401 refreshes, rate limits back off, missing scope asks for consent, a gone or read-only
    calendar is reported, and a bad request fails the appointment."""
    assert reaction("auth") == "refresh_token"
    assert {reaction(k) for k in ("rate_limit", "quota", "transient")} == {"backoff"}
    assert reaction("insufficient_permissions") == "needs_consent"
    assert reaction("no_writer_access") == reaction("not_found") == "calendar_unavailable"
    assert reaction("bad_request") == "failed"


def test_backoff_grows_exponentially_up_to_the_cap_with_jitter() -> None:
    """min(cap, base * 2^n) plus up to one base of jitter."""
    backoff = Backoff(base=1.0, cap=64.0)
    assert [backoff.delay(n, 0.0) for n in range(8)] == [1, 2, 4, 8, 16, 32, 64, 64]
    assert backoff.delay(0, 0.5) == 1.5


def test_retry_after_from_google_is_honoured_when_longer() -> None:
    """Google's Retry-After wins over a shorter planned pause, never over a longer one."""
    backoff = Backoff(base=1.0, cap=64.0)
    assert backoff.delay(0, 0.0, retry_after=30) == 30
    assert backoff.delay(6, 0.0, retry_after=3) == 64


def test_quota_exhaustion_waits_minutes() -> None:
    """quotaExceeded gets no advice from Google: the next try is minutes away."""
    now = datetime(2026, 1, 1, tzinfo=UTC)
    due = Backoff(base=1.0, cap=64.0).due(now, 0, 0.0, kind="quota", retry_after=None)
    assert due - now >= timedelta(minutes=5)
