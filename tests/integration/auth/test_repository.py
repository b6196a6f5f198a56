"""The grants repository against PostgreSQL: one grant per user kept in place, single-use OAuth
states, pending revocations claimed across replicas, and forgetting a user."""

from __future__ import annotations

import uuid
from datetime import timedelta

import asyncpg

from services.auth.adapters import connection_repository, crypto
from services.auth.usecases import connection
from shared.clock import ManualClock
from shared.db import transaction
from shared.outbox import Outbox
from tests.integration.auth.grants import CIPHER, NOW, connection_for


async def test_save_connection_replaces_in_place(auth_pool: asyncpg.Pool) -> None:
    """Saving a second connection for a user updates the same row and clears a disconnected state."""
    async with auth_pool.acquire() as conn:
        await connection_repository.save_connection(conn, connection_for("g1", "u1", "1//first"), NOW)
        await conn.execute(
            "UPDATE grants SET state = 'disconnected', reason = 'revoked', refresh_failures = 3"
        )
        await connection_repository.save_connection(
            conn, connection_for("g1", "u1", "1//second", "b@example.com"), NOW
        )
        grant = await connection_repository.get_grant_by_user(conn, "u1")
        assert await conn.fetchval("SELECT count(*) FROM grants") == 1
    assert grant is not None
    assert (grant.grant_id, grant.state, grant.reason, grant.refresh_failures) == ("g1", "connected", None, 0)
    assert grant.google_email == "b@example.com"
    assert grant.refresh_token_enc is not None
    assert CIPHER.open_field("g1", "refresh_token", grant.refresh_token_enc) == "1//second"
    assert grant.token_hash == crypto.token_hash("1//second")


async def test_oauth_state_is_single_use(auth_pool: asyncpg.Pool) -> None:
    """A state can be marked used once; the second attempt reports it was already used."""
    state = connection_repository.OAuthState(
        state_hash="h1",
        user_id="u1",
        locale="de",
        browser_hash="b",
        code_verifier_enc=CIPHER.encrypt("verifier", aad="h1:code_verifier"),
        login_hint=None,
        created_at=NOW,
        expires_at=NOW + timedelta(minutes=10),
    )
    async with auth_pool.acquire() as conn:
        await connection_repository.insert_state(conn, state)
        assert await connection_repository.mark_state_used(conn, "h1", NOW)
        assert not await connection_repository.mark_state_used(conn, "h1", NOW)
        found = await connection_repository.get_state_for_update(conn, "h1")
        assert found is not None and found.used_at == NOW
        assert await connection_repository.delete_old_states(conn, NOW + timedelta(minutes=11)) == 1


async def test_due_revocations_are_claimed_by_one_replica_at_a_time(auth_pool: asyncpg.Pool) -> None:
    """While one transaction holds a pending revocation, another replica skips it."""
    async with auth_pool.acquire() as conn:
        for i in range(3):
            await connection_repository.add_revocation(
                conn,
                revocation_id=f"r{i}",
                grant_id="g",
                user_id="u",
                token_enc=b"k1:x",
                reason="deleted",
                now=NOW,
            )
    async with auth_pool.acquire() as first, auth_pool.acquire() as second:
        async with first.transaction():
            mine = await connection_repository.claim_due_revocations(first, NOW, 2)
            async with second.transaction():
                theirs = await connection_repository.claim_due_revocations(second, NOW, 10)
        assert len(mine) == 2 and len(theirs) == 1
        assert {r.revocation_id for r in mine} | {r.revocation_id for r in theirs} == {"r0", "r1", "r2"}
        await connection_repository.postpone_revocation(
            first, "r0", next_attempt_at=NOW + timedelta(hours=1), error="503"
        )
        assert [
            r.revocation_id for r in await connection_repository.claim_due_revocations(first, NOW, 10)
        ] == [
            "r1",
            "r2",
        ]


async def test_forget_user_keeps_only_an_anonymous_token_to_revoke(auth_pool: asyncpg.Pool) -> None:
    """After user deletion no row names the user; the token waits, unnamed, to be revoked."""
    user_id = "u-" + uuid.uuid4().hex[:6]
    async with transaction(auth_pool) as conn:
        await connection_repository.save_connection(conn, connection_for("g9", user_id, "1//doomed"), NOW)
        clock = ManualClock(NOW)
        await connection.forget_user(conn, user_id, outbox=Outbox(clock), clock=clock)
    async with auth_pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM grants") == 0
        rows = await conn.fetch("SELECT user_id, grant_id, reason, token_enc FROM pending_revocations")
        event = await conn.fetchval("SELECT body FROM outbox WHERE message_type = 'grant.deleted'")
    assert [(r["user_id"], r["grant_id"], r["reason"]) for r in rows] == [(None, "g9", "user_deleted")]
    assert CIPHER.decrypt(bytes(rows[0]["token_enc"]), aad="g9:refresh_token") == "1//doomed"
    assert b'"cause":"user_deleted"' in bytes(event)
