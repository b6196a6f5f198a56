"""Pure refresh timing: the settings, when to refresh next, how long to back off, when the disconnect
circuit breaker opens and when to announce a time-limited grant's end. No I/O, no clock reads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

SAME_END = timedelta(days=1)  # expiry dates of a time-limited grant closer than this are one end


@dataclass(frozen=True)
class RefreshSettings:
    """Timing and thresholds of refresh, keep-alive, retries and the circuit breaker (seconds)."""

    lead: float = 600.0  # refresh this long before the access token expires ...
    jitter: float = 300.0  # ... minus up to this much, so grants that expire together spread out
    min_validity: float = 120.0  # a token is handed out only if it lives at least this long
    active_window: float = 86_400.0  # grants used within this window are kept warm
    max_silence: float = 6 * 3_600.0  # every grant is refreshed at least this often (finds dead ones)
    expiring_notice: float = 3 * 86_400.0  # announce a time-limited grant's end this early
    retry_base: float = 30.0
    retry_max: float = 1_800.0
    breaker_window: float = 600.0
    breaker_min_dead: int = 20
    breaker_share: float = 0.2
    poll_interval: float = 1.0  # real seconds between scheduler passes
    batch_size: int = 200
    concurrency: int = 8
    claim_lease: float = 120.0  # a claimed grant is not claimed again for this long
    http_timeout: float = 10.0
    lock_wait: float = 2.0  # a token request waits this long for a grant another refresh holds
    force_min_interval: float = 10.0  # a forced refresh this soon after a working one gets that token


def proactive_refresh_at(access_expires_at: datetime, s: RefreshSettings, u: float) -> datetime:
    """When to refresh a grant in use: ``lead`` before expiry, minus a jitter (``u`` uniform in [0, 1))."""
    return access_expires_at - timedelta(seconds=s.lead + s.jitter * u)


def next_refresh_at(
    *, now: datetime, access_expires_at: datetime, last_used_at: datetime | None, s: RefreshSettings, u: float
) -> datetime:
    """After a refresh: warm grants are refreshed before expiry, idle ones after ``max_silence``."""
    if last_used_at is not None and now - last_used_at <= timedelta(seconds=s.active_window):
        return max(now, proactive_refresh_at(access_expires_at, s, u))
    return now + timedelta(seconds=s.max_silence * (1.0 - 0.1 * u))


def schedule_lags_use(
    next_refresh_at: datetime | None, access_expires_at: datetime, s: RefreshSettings
) -> bool:
    """Whether a grant in use is due later than ``lead`` before its token expires (e.g. scheduled as
    idle when it was connected): its use must be noted now to move the refresh ahead."""
    return next_refresh_at is None or next_refresh_at > access_expires_at - timedelta(seconds=s.lead)


def due_after_skip(
    *,
    now: datetime,
    access_expires_at: datetime | None,
    last_refreshed_at: datetime | None,
    last_used_at: datetime | None,
    s: RefreshSettings,
    u: float,
) -> datetime:
    """When a claimed grant that needed no call to Google (``needs_refresh`` was false) is due again:
    the schedule its last refresh set (before expiry if in use, else at the end of its silence), never
    the claim's lease."""
    in_use = last_used_at is not None and now - last_used_at <= timedelta(seconds=s.active_window)
    if in_use and access_expires_at is not None:
        return max(now, proactive_refresh_at(access_expires_at, s, u))
    if last_refreshed_at is None:
        return now + timedelta(seconds=s.max_silence)
    return max(now, last_refreshed_at + timedelta(seconds=s.max_silence * (1.0 - 0.1 * u)))


def needs_refresh(
    *,
    now: datetime,
    access_expires_at: datetime | None,
    last_refreshed_at: datetime | None,
    s: RefreshSettings,
) -> bool:
    """Whether a claimed grant still needs a call to Google (another worker may have done it)."""
    if access_expires_at is None or access_expires_at - now <= timedelta(seconds=s.lead + s.jitter):
        return True
    return last_refreshed_at is None or now - last_refreshed_at >= timedelta(seconds=s.max_silence * 0.9)


def usable(access_expires_at: datetime | None, now: datetime, s: RefreshSettings) -> bool:
    """Whether the stored access token may be handed out (it lives at least ``min_validity``)."""
    return access_expires_at is not None and access_expires_at - now >= timedelta(seconds=s.min_validity)


def refreshed_recently(last_refreshed_at: datetime | None, now: datetime, s: RefreshSettings) -> bool:
    """Whether a forced refresh is answered with the token of a working refresh this recent."""
    return last_refreshed_at is not None and now - last_refreshed_at < timedelta(seconds=s.force_min_interval)


def retry_delay(failures: int, s: RefreshSettings, u: float) -> float:
    """Exponential backoff with jitter for transient failures: base·2^(n-1), capped, ±20 %."""
    delay: float = min(s.retry_max, s.retry_base * 2.0 ** max(0, failures - 1))
    return delay * (0.8 + 0.4 * u)


def breaker_trips(*, dead: int, attempted: int, s: RefreshSettings) -> bool:
    """The circuit opens when many grants die in the window and they are an unusual share of refreshes."""
    return dead >= s.breaker_min_dead and dead >= s.breaker_share * max(attempted, 1)


def expiring_due(
    *,
    now: datetime,
    refresh_token_expires_at: datetime | None,
    announced_for: datetime | None,
    s: RefreshSettings,
) -> bool:
    """A time-limited grant's end is announced once, ``expiring_notice`` ahead. Each refresh reports the
    end again as now + refresh_token_expires_in, which wobbles by clock skew: an end within
    ``SAME_END`` of the announced one is the same end (a new consent moves it further)."""
    if refresh_token_expires_at is None:
        return False
    if announced_for is not None and announced_for >= refresh_token_expires_at - SAME_END:
        return False
    return refresh_token_expires_at - now <= timedelta(seconds=s.expiring_notice)


def breaker_since(now: datetime, reset_at: datetime | None, s: RefreshSettings) -> datetime:
    """Where the breaker's counting window starts: ``breaker_window`` ago, or the last operator reset."""
    since = now - timedelta(seconds=s.breaker_window)
    return reset_at if reset_at is not None and reset_at > since else since
