"""A grants-table row for repository tests, with tokens sealed under a test key."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

from services.auth.adapters import crypto
from services.auth.domain.model import Connection

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
CIPHER = crypto.TokenCipher([("k1", os.urandom(32))])


def connection_for(grant_id: str, user_id: str, token: str, email: str = "a@example.com") -> Connection:
    return Connection(
        grant_id=grant_id,
        user_id=user_id,
        google_sub="sub-" + email,
        google_email=email,
        scopes=("openid", "https://www.googleapis.com/auth/calendar.events"),
        refresh_token_enc=CIPHER.seal_field(grant_id, "refresh_token", token),
        access_token_enc=CIPHER.seal_field(grant_id, "access_token", "ya29.access"),
        access_expires_at=NOW + timedelta(hours=1),
        refresh_token_expires_at=None,
        token_hash=crypto.token_hash(token),
        token_prefix_hash=crypto.token_prefix_hash(token),
        next_refresh_at=NOW + timedelta(days=3),
    )
