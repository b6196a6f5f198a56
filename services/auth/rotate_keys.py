"""``python -m services.auth.rotate_keys``: re-encrypt every stored secret under the newest key.

Run after putting a new key first in TOKEN_KEYS (and deploying it); once it reports nothing left
under old keys, the old key can be removed from TOKEN_KEYS. Needs DATABASE_URL and TOKEN_KEYS only.
Grants are processed in small locked batches, so running services are never blocked for long.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Mapping

import asyncpg
import structlog

from services.auth import repository
from services.auth.config import parse_token_keys
from services.auth.crypto import TokenCipher, field_aad
from shared import db
from shared.config import DEFAULT_DATABASE_URL, Env
from shared.logs import configure_logging

log = structlog.get_logger(__name__)
BATCH = 200


def _reseal(cipher: TokenCipher, blob: bytes | None, aad: str) -> bytes | None:
    return None if blob is None else cipher.reseal(bytes(blob), aad=aad)


async def rotate(pool: asyncpg.Pool, cipher: TokenCipher) -> int:
    """Re-encrypt grants, OAuth states and pending revocations; returns how many values changed."""
    changed, after = 0, ""
    while True:
        async with pool.acquire() as conn, conn.transaction():
            rows = await repository.grant_ciphertexts(conn, after, BATCH)
            for row in rows:
                gid = row["grant_id"]
                old = (row["refresh_token_enc"], row["access_token_enc"])
                new = (
                    _reseal(cipher, old[0], field_aad(gid, "refresh_token")),
                    _reseal(cipher, old[1], field_aad(gid, "access_token")),
                )
                if new != tuple(None if b is None else bytes(b) for b in old):
                    await repository.update_grant_ciphertexts(conn, gid, new[0], new[1])
                    changed += sum(
                        1 for a, b in zip(old, new, strict=True) if a is not None and bytes(a) != b
                    )
        if len(rows) < BATCH:
            break
        after = rows[-1]["grant_id"]
    async with pool.acquire() as conn, conn.transaction():
        for row in await repository.state_ciphertexts(conn):
            blob = bytes(row["code_verifier_enc"])
            if not cipher.is_current(blob):
                aad = field_aad(row["state_hash"], "code_verifier")
                await repository.update_state_ciphertext(
                    conn, row["state_hash"], cipher.reseal(blob, aad=aad)
                )
                changed += 1
        for row in await repository.revocation_ciphertexts(conn):
            blob = bytes(row["token_enc"])
            if not cipher.is_current(blob):
                aad = field_aad(row["grant_id"], "refresh_token")
                await repository.update_revocation_ciphertext(
                    conn, row["revocation_id"], cipher.reseal(blob, aad=aad)
                )
                changed += 1
    log.info("keys_rotated", key_id=cipher.current_kid, values_reencrypted=changed)
    return changed


async def main(environ: Mapping[str, str] | None = None) -> int:
    env = Env(environ)
    cipher = TokenCipher(parse_token_keys(env.text("TOKEN_KEYS")))
    pool = await db.create_pool(
        env.text("DATABASE_URL", DEFAULT_DATABASE_URL), schema="auth", application_name="auth-rotate-keys"
    )
    try:
        await rotate(pool, cipher)
    finally:
        await db.close_pool(pool)
    return 0


if __name__ == "__main__":
    configure_logging(Env().text("LOG_LEVEL", "INFO"))
    sys.exit(asyncio.run(main()))
