"""What a token request gets before any call to Google: the answer for a grant that cannot give a
token (disconnected, suspended, held, backing off), or the stored token when it is still good."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.auth.domain.model import RefreshGrant
from services.auth.domain.refresh_rules import RefreshSettings, refreshed_recently, usable


@dataclass(frozen=True)
class TokenAnswer:
    """What a token request gets; ``outcome`` labels what happened for metrics."""

    status: str  # token | disconnected | no_grant | temporarily_unavailable
    outcome: str
    access_token: str | None = None
    expires_at: datetime | None = None
    reason: str | None = None
    retry_after: float | None = None


def unusable(grant: RefreshGrant, settings: RefreshSettings) -> TokenAnswer | None:
    """The answer for a grant that cannot give a token at all (disconnected, suspended, held)."""
    row = grant.grant
    if row.state == "disconnected":
        return TokenAnswer("disconnected", "disconnected", reason=row.reason)
    if row.state == "suspended":
        return TokenAnswer("disconnected", "suspended", reason=row.reason or "security_block")
    if grant.pending_verdict:
        return TokenAnswer("temporarily_unavailable", "pending_verdict", retry_after=settings.retry_max)
    return None


def in_backoff(grant: RefreshGrant, now: datetime) -> TokenAnswer | None:
    """A grant whose last refresh failed is not retried before its backoff ends."""
    due = grant.grant.next_refresh_at
    if grant.grant.refresh_failures > 0 and due is not None and due > now:
        return TokenAnswer("temporarily_unavailable", "backoff", retry_after=(due - now).total_seconds())
    return None


def serve_stored(
    grant: RefreshGrant,
    now: datetime,
    settings: RefreshSettings,
    *,
    refreshed_before: datetime | None,
    forced_token: bool = False,
) -> bool:
    """Whether the stored access token may be handed out instead of refreshing. A forced refresh
    (``refreshed_before``: the refresh the caller saw) is satisfied once someone refreshed since, or
    when the stored token came from a forced refresh (``forced_token``) more recent than
    ``force_min_interval``."""
    last = grant.grant.last_refreshed_at
    forced = refreshed_before is not None and last == refreshed_before
    recent = forced_token and refreshed_recently(last, now, settings)
    return (not forced or recent) and usable(grant.grant.access_expires_at, now, settings)


def busy(settings: RefreshSettings) -> TokenAnswer:
    """Another refresh holds the grant longer than a token request waits."""
    return TokenAnswer("temporarily_unavailable", "busy", retry_after=max(1.0, settings.lock_wait))
