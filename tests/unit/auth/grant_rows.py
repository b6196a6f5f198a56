"""A grant as the repository would load it, for the pure auth rules' tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.auth.domain.model import Grant, RefreshGrant

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def grant(**changes: object) -> RefreshGrant:
    row = Grant(
        grant_id="g1",
        user_id="u1",
        google_sub="sub-1",
        google_email="ada@example.com",
        state="connected",
        reason=None,
        state_since=NOW - timedelta(days=30),
        hijacked=False,
        scopes=("openid",),
        refresh_token_enc=b"k1:sealed",
        access_token_enc=b"k1:sealed",
        access_expires_at=NOW + timedelta(minutes=5),
        refresh_token_expires_at=None,
        token_hash=None,
        token_prefix_hash=None,
        next_refresh_at=NOW,
        last_refreshed_at=NOW - timedelta(minutes=55),
        refresh_failures=int(changes.pop("refresh_failures", 0)),  # type: ignore[call-overload]
        created_at=NOW - timedelta(days=30),
        updated_at=NOW,
    )
    extras: dict[str, object] = {
        "last_used_at": None,
        "last_attempt_at": None,
        "verdict_pending_since": None,
        "verdict_pending_reason": None,
        "expiring_announced_for": None,
    }
    extras.update(changes)
    return RefreshGrant(row, **extras)  # type: ignore[arg-type]
