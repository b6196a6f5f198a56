"""Pure refresh rules: what a Google failure means for a grant (google.md §3-4), when to refresh next,
when the disconnect circuit breaker opens, when to announce a time-limited grant's end. No I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from services.auth.oauth_types import OAuthError, OAuthTransportError

APP_WIDE_ERRORS = frozenset({"invalid_client", "deleted_client", "unauthorized_client"})
TRANSIENT_ERRORS = frozenset({"temporarily_unavailable", "internal_failure", "server_error"})
TRANSIENT_STATUS = frozenset({408, 429})
SAME_END = timedelta(days=1)  # expiry dates of a time-limited grant closer than this are one end


class FailureClass(StrEnum):
    DEAD = "dead"  # this grant is over: the user must reconnect
    TRANSIENT = "transient"  # retry later; never disconnects anyone
    APP_WIDE = "app_wide"  # our OAuth client is broken: alert operators, never touch users
    INTERNAL = "internal"  # our own fault before or after Google (e.g. a token no key opens): back off


@dataclass(frozen=True)
class Verdict:
    failure: FailureClass
    reason: str | None  # a shared.messages.DisconnectReason for DEAD
    error: str  # Google's error code (or a transport description) for logs and metrics


@dataclass(frozen=True)
class RefreshSettings:
    """Timing and thresholds of refresh, keep-alive, retries and the circuit breaker (seconds)."""

    lead: float = 600.0  # refresh this long before the access token expires ...
    jitter: float = 300.0  # ... minus up to this much, so grants that expire together spread out
    min_validity: float = 120.0  # a token is handed out only if it lives at least this long
    active_window: float = 86_400.0  # grants used within this window are kept warm
    keepalive: float = 3 * 86_400.0  # every grant is refreshed at least this often
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


def classify(exc: Exception, *, refresh_token_expires_at: datetime | None, now: datetime) -> Verdict:
    """Sort a refresh failure into dead / transient / app-wide, with the reason code for dead grants."""
    if isinstance(exc, OAuthTransportError):
        if exc.error in APP_WIDE_ERRORS:
            return Verdict(FailureClass.APP_WIDE, None, exc.error or "")
        return Verdict(FailureClass.TRANSIENT, None, exc.error or f"transport:{exc.status or 'network'}")
    if not isinstance(exc, OAuthError):  # not Google's verdict: never disconnect for our own problem
        return Verdict(FailureClass.INTERNAL, None, type(exc).__name__)
    error = exc.error
    if error in APP_WIDE_ERRORS:
        return Verdict(FailureClass.APP_WIDE, None, error)
    if error == "admin_policy_enforced":
        return Verdict(FailureClass.DEAD, "admin_policy", error)
    if error == "invalid_grant":
        return Verdict(FailureClass.DEAD, _invalid_grant_reason(exc, refresh_token_expires_at, now), error)
    if error in TRANSIENT_ERRORS or exc.status in TRANSIENT_STATUS or exc.status >= 500:
        return Verdict(FailureClass.TRANSIENT, None, error)
    # invalid_request, invalid_scope, unknown codes: our bug or Google's; never disconnect on a guess
    return Verdict(FailureClass.TRANSIENT, None, error)


def _invalid_grant_reason(exc: OAuthError, rt_expires_at: datetime | None, now: datetime) -> str:
    if (exc.description or "").strip().lower().startswith("account has been deleted"):
        return "account_deleted"
    if rt_expires_at is not None and rt_expires_at <= now:
        return "access_expired"
    return "revoked"


def proactive_refresh_at(access_expires_at: datetime, s: RefreshSettings, u: float) -> datetime:
    """When to refresh a grant in use: ``lead`` before expiry, minus a jitter (``u`` uniform in [0, 1))."""
    return access_expires_at - timedelta(seconds=s.lead + s.jitter * u)


def next_refresh_at(
    *, now: datetime, access_expires_at: datetime, last_used_at: datetime | None, s: RefreshSettings, u: float
) -> datetime:
    """After a refresh: warm grants are refreshed before expiry, idle ones only for keep-alive."""
    if last_used_at is not None and now - last_used_at <= timedelta(seconds=s.active_window):
        return max(now, proactive_refresh_at(access_expires_at, s, u))
    return now + timedelta(seconds=s.keepalive * (1.0 - 0.1 * u))


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
    return last_refreshed_at is None or now - last_refreshed_at >= timedelta(seconds=s.keepalive * 0.9)


def usable(access_expires_at: datetime | None, now: datetime, s: RefreshSettings) -> bool:
    """Whether the stored access token may be handed out (it lives at least ``min_validity``)."""
    return access_expires_at is not None and access_expires_at - now >= timedelta(seconds=s.min_validity)


def retry_delay(failures: int, s: RefreshSettings, u: float) -> float:
    """Exponential backoff with jitter for transient failures: base·2^(n-1), capped, ±20 %."""
    delay = min(s.retry_max, s.retry_base * 2 ** max(0, failures - 1))
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
