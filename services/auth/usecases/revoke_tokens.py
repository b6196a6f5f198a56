"""Revoke refresh tokens at Google after a delete or a replacing reconnect, retried until done.

A revoke is recorded in ``pending_revocations`` in the same transaction that drops the token; the
first attempt follows right after commit (a deleted grant's only once its hold ends: ``channels.stopped``
from sync, ``release_hold``, or ``REVOKE_HOLD_SECONDS``) and the revocation job (entrypoints/jobs.py) retries failures
with growing delays, so a Google outage never blocks a deletion and never loses a revocation.
"""

from __future__ import annotations

from datetime import timedelta

import asyncpg
import structlog

from services.auth.adapters import connection_repository
from services.auth.adapters.crypto import DecryptionError, TokenCipher, field_aad
from services.auth.adapters.google_oauth import GoogleOAuth
from services.auth.domain.oauth_types import OAuthError, OAuthTransportError
from shared.clock import Clock
from shared.db import AfterCommit, after_commit

log = structlog.get_logger(__name__)

MAX_DELAY = timedelta(hours=6)
BATCH = 50


async def revoke_due(
    pool: asyncpg.Pool,
    *,
    google: GoogleOAuth,
    cipher: TokenCipher,
    clock: Clock,
    base_delay: float,
    max_attempts: int,
) -> int:
    """Try every due revocation once; returns how many are done (revoked or given up)."""
    done = 0
    async with pool.acquire() as conn, conn.transaction():
        for item in await connection_repository.claim_due_revocations(conn, clock.now(), BATCH):
            error = await _revoke_one(item, google=google, cipher=cipher)
            if error is None:
                await connection_repository.finish_revocation(conn, item.revocation_id)
                log.info("token_revoked", revocation_id=item.revocation_id, reason=item.reason)
                done += 1
            elif item.attempts + 1 >= max_attempts:
                await connection_repository.finish_revocation(conn, item.revocation_id)
                log.warning("token_revoke_given_up", revocation_id=item.revocation_id, error=error)
                done += 1
            else:
                delay = min(MAX_DELAY, timedelta(seconds=base_delay * 2**item.attempts))
                await connection_repository.postpone_revocation(
                    conn, item.revocation_id, next_attempt_at=clock.now() + delay, error=error
                )
                log.warning("token_revoke_failed", revocation_id=item.revocation_id, error=error)
    return done


async def _revoke_one(
    item: connection_repository.Revocation, *, google: GoogleOAuth, cipher: TokenCipher
) -> str | None:
    """None when Google no longer honours the token; otherwise a short error text (no secrets)."""
    try:
        token = cipher.decrypt(item.token_enc, aad=field_aad(item.grant_id, "refresh_token"))
    except DecryptionError as exc:
        return f"decrypt: {exc}"
    try:
        await google.revoke(token)
    except OAuthError as exc:
        return f"oauth {exc.status} {exc.error}"
    except OAuthTransportError as exc:
        return f"transport {exc.detail}"
    return None


async def release_hold(
    conn: asyncpg.Connection, *, user_id: str, grant_id: str, clock: Clock, wake: AfterCommit
) -> None:
    """sync stopped the deleted grant's channels: its held revocation is due now and the revocation
    job is woken once the caller's transaction commits. Nothing is held any more: nothing happens."""
    released = await connection_repository.release_held(
        conn, grant_id=grant_id, user_id=user_id, now=clock.now()
    )
    log.info("revocation_hold_released", grant_id=grant_id, released=released)
    if released:
        after_commit(wake)


async def forget_stale_states(pool: asyncpg.Pool, *, clock: Clock) -> int:
    """Drop OAuth states a day past their expiry (the revocation pass runs this too)."""
    async with pool.acquire() as conn:
        return await connection_repository.delete_old_states(conn, clock.now() - timedelta(days=1))
