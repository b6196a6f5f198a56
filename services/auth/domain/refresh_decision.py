"""The outcome of one refresh attempt, decided from plain values: what Google's answer (or failure)
means for the grant (docs/google.md §3-4), its new state and next due time, the events to publish, the
incident to open and what the token request is told. The refresh use cases apply it; no I/O here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from services.auth.domain import grant_events
from services.auth.domain.model import RefreshGrant
from services.auth.domain.oauth_types import OAuthError, OAuthTransportError, TokenResponse
from services.auth.domain.refresh_rules import RefreshSettings, breaker_trips, next_refresh_at, retry_delay
from services.auth.domain.token_answers import TokenAnswer
from shared import messages as m

APP_WIDE_ERRORS = frozenset({"invalid_client", "deleted_client", "unauthorized_client"})


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
    # temporarily_unavailable, 5xx, 429, and also invalid_request, invalid_scope, unknown codes (our
    # bug or Google's): never disconnect on a guess
    return Verdict(FailureClass.TRANSIENT, None, error)


def _invalid_grant_reason(exc: OAuthError, rt_expires_at: datetime | None, now: datetime) -> str:
    if (exc.description or "").strip().lower().startswith("account has been deleted"):
        return "account_deleted"
    if rt_expires_at is not None and rt_expires_at <= now:
        return "access_expired"
    return "revoked"


def consults_breaker(attempt: TokenResponse | Verdict) -> bool:
    """Whether the circuit breaker must be read first: only a death Google could be wrong about."""
    return (
        isinstance(attempt, Verdict)
        and attempt.failure is FailureClass.DEAD
        and attempt.reason != "access_expired"
    )


@dataclass(frozen=True)
class BreakerWindow:
    """The breaker as the use case found it (its row locked): open, or the counts since ``since``."""

    open: bool
    since: datetime
    dead: int  # grants that died at refresh in the window, before this one
    attempted: int  # grants attempted in the window


@dataclass(frozen=True)
class Incident:
    """An incident to open (one operator alert per incident; none when one of the kind is open)."""

    kind: str  # app_config | circuit_open
    error: str | None
    detail: str | None


@dataclass(frozen=True)
class RefreshDecision:
    """What one refresh attempt changes. ``state``: refreshed | backoff | held | disconnected."""

    state: str
    answer: TokenAnswer  # without the access token, which the use case adds for a token request
    next_refresh_at: datetime | None = None
    failures: int = 0  # the grant's new count of consecutive failures (backoff)
    reason: str | None = None  # why it is disconnected or held
    events: tuple[m.Message, ...] = ()
    incident: Incident | None = None
    lead: float = 0.0  # refreshed: seconds the old access token still had
    verdict: Verdict | None = None


def decide(
    grant: RefreshGrant,
    result: TokenResponse | Verdict,
    *,
    now: datetime,
    settings: RefreshSettings,
    jitter: float,
    breaker: BreakerWindow | None = None,
) -> RefreshDecision:
    """The outcome of refreshing ``grant`` at ``now``: Google's answer, or the failure's verdict.
    ``jitter`` is uniform in [0, 1); ``breaker`` is given when ``consults_breaker(verdict)``."""
    if isinstance(result, TokenResponse):
        return _refreshed(grant, result, now, settings, jitter)
    if result.failure is FailureClass.DEAD:
        assert result.reason is not None
        return _dead(grant, result, result.reason, now, settings, breaker)
    failures = grant.grant.refresh_failures + 1
    delay = retry_delay(failures, settings, jitter)
    incident = Incident("app_config", result.error, "token endpoint")
    return RefreshDecision(
        "backoff",
        TokenAnswer("temporarily_unavailable", result.failure.value, retry_after=delay),
        next_refresh_at=now + timedelta(seconds=delay),
        failures=failures,
        incident=incident if result.failure is FailureClass.APP_WIDE else None,
        verdict=result,
    )


def _refreshed(
    grant: RefreshGrant, tokens: TokenResponse, now: datetime, settings: RefreshSettings, jitter: float
) -> RefreshDecision:
    """A working refresh: next due time, and a held verdict ends (grant.connected, recovered)."""
    expires_at = tokens.expires_at(now)
    old = grant.grant.access_expires_at
    return RefreshDecision(
        "refreshed",
        TokenAnswer("token", "refreshed", expires_at=expires_at),
        next_refresh_at=next_refresh_at(
            now=now, access_expires_at=expires_at, last_used_at=grant.last_used_at, s=settings, u=jitter
        ),
        events=(grant_events.recovered(grant.grant),) if grant.pending_verdict else (),
        lead=max(0.0, (old - now).total_seconds()) if old is not None else 0.0,
    )


def _dead(
    grant: RefreshGrant,
    verdict: Verdict,
    reason: str,
    now: datetime,
    settings: RefreshSettings,
    breaker: BreakerWindow | None,
) -> RefreshDecision:
    """Disconnect, unless the breaker is open or opens now because too many grants died at once."""
    if breaker is not None:
        seen = grant.last_attempt_at is not None and grant.last_attempt_at >= breaker.since
        dead, attempted = breaker.dead + 1, breaker.attempted + (0 if seen else 1)
        trips = not breaker.open and breaker_trips(dead=dead, attempted=attempted, s=settings)
        if breaker.open or trips:
            detail = (
                f"{dead} of {attempted} grants refreshed since {breaker.since.isoformat()} were reported dead"
            )
            return RefreshDecision(
                "held",
                TokenAnswer("temporarily_unavailable", "pending_verdict", retry_after=settings.retry_max),
                next_refresh_at=now + timedelta(seconds=settings.retry_max),
                reason=reason,
                incident=Incident("circuit_open", "invalid_grant", detail) if trips else None,
                verdict=verdict,
            )
    event = grant_events.disconnected(grant.grant, reason=reason, detected_by="refresh", since=now)
    return RefreshDecision(
        "disconnected",
        TokenAnswer("disconnected", "dead", reason=reason),
        reason=reason,
        events=(event,),
        verdict=verdict,
    )
