"""Key rotation: ``python -m services.auth.entrypoints.rotate_keys_command`` moves every secret to the newest key."""

from __future__ import annotations

import base64
import os
from datetime import UTC, datetime, timedelta

import asyncpg

from services.auth.adapters import connection_repository, crypto
from services.auth.domain.model import Connection
from services.auth.entrypoints import rotate_keys_command
from services.auth.usecases import rotate_keys
from tests.integration.auth.grants import connection_for

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
OLD = ("2026a", os.urandom(32))
NEW = ("2026b", os.urandom(32))


async def _seed(pool: asyncpg.Pool, count: int) -> None:
    old = crypto.TokenCipher([OLD])
    async with pool.acquire() as conn:
        for i in range(count):
            c = connection_for(f"g{i:04d}", f"u{i}", f"1//token-{i}")
            c = Connection(
                **{
                    **c.__dict__,
                    "refresh_token_enc": old.seal_field(c.grant_id, "refresh_token", f"1//token-{i}"),
                    "access_token_enc": old.seal_field(c.grant_id, "access_token", f"ya29.access-{i}"),
                }
            )
            await connection_repository.save_connection(conn, c, NOW)
        await connection_repository.insert_state(
            conn,
            connection_repository.OAuthState(
                "s1",
                "u0",
                "en",
                "b",
                old.encrypt("verifier", aad="s1:code_verifier"),
                None,
                NOW,
                NOW + timedelta(minutes=5),
            ),
        )
        await connection_repository.add_revocation(
            conn,
            revocation_id="r1",
            grant_id="gone",
            user_id=None,
            token_enc=old.seal_field("gone", "refresh_token", "1//old"),
            reason="deleted",
            now=NOW,
        )


async def _key_ids(pool: asyncpg.Pool) -> set[str]:
    async with pool.acquire() as conn:
        blobs = await conn.fetch(
            "SELECT refresh_token_enc AS b FROM grants UNION ALL SELECT access_token_enc FROM grants"
            " UNION ALL SELECT code_verifier_enc FROM oauth_states UNION ALL SELECT token_enc FROM pending_revocations"
        )
    return {crypto.key_id(bytes(r["b"])) for r in blobs}


async def test_rotation_reencrypts_everything_under_the_newest_key(auth_pool: asyncpg.Pool) -> None:
    """After rotating, every stored secret opens with the new key alone and says the same as before."""
    await _seed(auth_pool, 205)  # more than one batch
    assert await _key_ids(auth_pool) == {"2026a"}
    both = crypto.TokenCipher([NEW, OLD])
    changed = await rotate_keys.rotate(auth_pool, both)
    assert changed == 205 * 2 + 2
    assert await _key_ids(auth_pool) == {"2026b"}
    new_only = crypto.TokenCipher([NEW])
    async with auth_pool.acquire() as conn:
        grant = await connection_repository.get_grant(conn, "g0204")
        verifier = await conn.fetchval("SELECT code_verifier_enc FROM oauth_states")
        revocation = await conn.fetchval("SELECT token_enc FROM pending_revocations")
    assert grant is not None and grant.refresh_token_enc and grant.access_token_enc
    assert new_only.open_field("g0204", "refresh_token", grant.refresh_token_enc) == "1//token-204"
    assert new_only.open_field("g0204", "access_token", grant.access_token_enc) == "ya29.access-204"
    assert new_only.decrypt(bytes(verifier), aad="s1:code_verifier") == "verifier"
    assert new_only.decrypt(bytes(revocation), aad="gone:refresh_token") == "1//old"
    assert await rotate_keys.rotate(auth_pool, both) == 0  # idempotent


async def test_rotate_keys_command_reads_its_environment(auth_pool: asyncpg.Pool, database_url: str) -> None:
    """The command, given DATABASE_URL and TOKEN_KEYS, leaves nothing under the old key."""
    await _seed(auth_pool, 3)
    keys = ",".join(f"{kid}:{base64.b64encode(key).decode()}" for kid, key in (NEW, OLD))
    assert await rotate_keys_command.main({"DATABASE_URL": database_url, "TOKEN_KEYS": keys}) == 0
    assert await _key_ids(auth_pool) == {"2026b"}
