"""When grants are refreshed: ahead of expiry with jitter, kept alive when idle, backoff on failures."""

from __future__ import annotations

from datetime import timedelta

from services.auth.domain import refresh_rules
from services.auth.domain.refresh_rules import RefreshSettings
from tests.unit.auth.grant_rows import NOW

S = RefreshSettings()


def test_warm_grants_refresh_before_expiry_spread_by_jitter() -> None:
    """Grants whose tokens expire together are refreshed 10-15 minutes early, not all at the same instant."""
    expires = NOW + timedelta(hours=1)
    times = {
        refresh_rules.next_refresh_at(now=NOW, access_expires_at=expires, last_used_at=NOW, s=S, u=u / 10)
        for u in range(10)
    }
    assert len(times) == 10
    assert all(expires - timedelta(minutes=15) <= t <= expires - timedelta(minutes=10) for t in times)


def test_idle_grants_are_refreshed_within_six_hours() -> None:
    """An unused grant is refreshed at least every six hours by default, so a grant revoked at Google
    without a security event is found within that time, and never kept alive less often."""
    times = [
        refresh_rules.next_refresh_at(
            now=NOW, access_expires_at=NOW + timedelta(hours=1), last_used_at=None, s=S, u=u / 10
        )
        for u in range(10)
    ]
    assert all(timedelta(hours=5.4) <= t - NOW <= timedelta(hours=6) for t in times)
    assert refresh_rules.needs_refresh(
        now=NOW, access_expires_at=NOW + timedelta(hours=1), last_refreshed_at=NOW - timedelta(hours=5.5), s=S
    )


def test_a_skipped_claim_keeps_the_grants_schedule() -> None:
    """A claimed grant whose token is still fresh is due again on its own schedule, not after the lease."""
    expires = NOW + timedelta(minutes=50)
    warm = refresh_rules.due_after_skip(
        now=NOW, access_expires_at=expires, last_refreshed_at=NOW, last_used_at=NOW, s=S, u=0.0
    )
    idle = refresh_rules.due_after_skip(
        now=NOW,
        access_expires_at=expires,
        last_refreshed_at=NOW - timedelta(hours=1),
        last_used_at=None,
        s=S,
        u=0.0,
    )
    assert warm == expires - timedelta(seconds=S.lead)
    assert idle == NOW + timedelta(hours=5)


def test_fresh_token_is_not_refreshed_twice() -> None:
    """A grant another worker just refreshed is skipped."""
    assert not refresh_rules.needs_refresh(
        now=NOW, access_expires_at=NOW + timedelta(minutes=59), last_refreshed_at=NOW, s=S
    )


def test_tokens_close_to_expiry_are_not_handed_out() -> None:
    """A token with less than two minutes left is refreshed rather than handed to sync."""
    assert refresh_rules.usable(NOW + timedelta(minutes=5), NOW, S)
    assert not refresh_rules.usable(NOW + timedelta(seconds=30), NOW, S)
    assert not refresh_rules.usable(None, NOW, S)


def test_backoff_grows_and_is_capped() -> None:
    """Retries after transient failures wait longer each time, within 20 % jitter, up to the cap."""
    delays = [refresh_rules.retry_delay(n, S, 0.5) for n in range(1, 12)]
    assert delays == sorted(delays) and delays[0] == S.retry_base and delays[-1] == S.retry_max
    assert refresh_rules.retry_delay(1, S, 0.0) == S.retry_base * 0.8


def test_expiry_is_announced_once_a_few_days_ahead() -> None:
    """A time-limited grant's end is announced three days ahead, and only once per end date."""
    end = NOW + timedelta(days=2)
    assert refresh_rules.expiring_due(now=NOW, refresh_token_expires_at=end, announced_for=None, s=S)
    assert not refresh_rules.expiring_due(now=NOW, refresh_token_expires_at=end, announced_for=end, s=S)
    wobble = end + timedelta(seconds=3)  # the same end, reported again by a later refresh
    assert not refresh_rules.expiring_due(now=NOW, refresh_token_expires_at=wobble, announced_for=end, s=S)
    renewed = end + timedelta(days=2)  # a new consent with a later end is announced again
    assert refresh_rules.expiring_due(
        now=NOW + timedelta(days=2), refresh_token_expires_at=renewed, announced_for=end, s=S
    )
    assert not refresh_rules.expiring_due(
        now=NOW, refresh_token_expires_at=NOW + timedelta(days=5), announced_for=None, s=S
    )


def test_a_grant_in_use_scheduled_as_idle_is_noticed() -> None:
    """A token handed out for a grant due only after its token expires moves the refresh ahead of expiry."""
    expires = NOW + timedelta(hours=1)
    assert refresh_rules.schedule_lags_use(NOW + timedelta(hours=6), expires, S)
    assert refresh_rules.schedule_lags_use(None, expires, S)
    assert not refresh_rules.schedule_lags_use(expires - timedelta(minutes=12), expires, S)
