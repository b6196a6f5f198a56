"""What auth knows about a grant, as plain values: the ``grants`` row (``Grant``) and the refresh
bookkeeping beside it (``RefreshGrant``). The adapters build these from rows; the rules read them."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime


@dataclass(frozen=True)
class Grant:
    """One row of ``grants``; token fields are ciphertexts (see adapters/crypto.py)."""

    grant_id: str
    user_id: str
    google_sub: str | None
    google_email: str | None
    state: str
    reason: str | None
    state_since: datetime
    hijacked: bool
    scopes: tuple[str, ...]
    refresh_token_enc: bytes | None
    access_token_enc: bytes | None
    access_expires_at: datetime | None
    refresh_token_expires_at: datetime | None
    token_hash: str | None
    token_prefix_hash: str | None
    next_refresh_at: datetime | None
    last_refreshed_at: datetime | None
    refresh_failures: int
    created_at: datetime
    updated_at: datetime

    @property
    def mailbox(self) -> str | None:
        """The Google email, unless Google reported the account hijacked (then it must not be used)."""
        return None if self.hijacked else self.google_email


@dataclass(frozen=True)
class RefreshGrant:
    """A grant with the refresh bookkeeping columns."""

    grant: Grant
    last_used_at: datetime | None
    last_attempt_at: datetime | None
    verdict_pending_since: datetime | None
    verdict_pending_reason: str | None
    expiring_announced_for: datetime | None

    @property
    def pending_verdict(self) -> bool:
        """Dead per Google but held by the breaker (a reconnect since then clears it)."""
        since = self.verdict_pending_since
        return since is not None and since >= self.grant.state_since and self.grant.state == "connected"

    def used_at(self, now: datetime) -> RefreshGrant:
        """The same grant, noted as used at ``now`` (a token request is refreshing it)."""
        return replace(self, last_used_at=now)


@dataclass(frozen=True)
class Connection:
    """What a completed consent stores: identity, scopes and freshly encrypted tokens."""

    grant_id: str
    user_id: str
    google_sub: str
    google_email: str | None
    scopes: tuple[str, ...]
    refresh_token_enc: bytes
    access_token_enc: bytes | None
    access_expires_at: datetime | None
    refresh_token_expires_at: datetime | None
    token_hash: str
    token_prefix_hash: str
    next_refresh_at: datetime | None
