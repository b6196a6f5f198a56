"""Re-encrypt every stored secret under the newest key (run by entrypoints/rotate_keys_command.py, and
by ``POST /api/v1/keys/rotate`` for the operator CLI's ``calsync rotate-keys``).

Grants are processed in small locked batches, so running services are never blocked for long.
"""

from __future__ import annotations

import asyncpg
import structlog

from services.auth.adapters import connection_repository
from services.auth.adapters.crypto import TokenCipher, field_aad

log = structlog.get_logger(__name__)
BATCH = 200


def _reseal(cipher: TokenCipher, blob: bytes | None, aad: str) -> bytes | None:
    return None if blob is None else cipher.reseal(bytes(blob), aad=aad)


def _resealed_if_stale(cipher: TokenCipher, blob: bytes, aad: str) -> bytes | None:
    """The value sealed under the newest key, or None when it already is."""
    current = bytes(blob)
    return None if cipher.is_current(current) else cipher.reseal(current, aad=aad)


async def rotate(pool: asyncpg.Pool, cipher: TokenCipher) -> int:
    """Re-encrypt grants, OAuth states and pending revocations; returns how many values changed."""
    changed, after = 0, ""
    while True:
        async with pool.acquire() as conn, conn.transaction():
            rows = await connection_repository.grant_ciphertexts(conn, after, BATCH)
            for row in rows:
                gid = row["grant_id"]
                old = (row["refresh_token_enc"], row["access_token_enc"])
                new = (
                    _reseal(cipher, old[0], field_aad(gid, "refresh_token")),
                    _reseal(cipher, old[1], field_aad(gid, "access_token")),
                )
                if new != tuple(None if b is None else bytes(b) for b in old):
                    await connection_repository.update_grant_ciphertexts(conn, gid, new[0], new[1])
                    changed += sum(
                        1 for a, b in zip(old, new, strict=True) if a is not None and bytes(a) != b
                    )
        if len(rows) < BATCH:
            break
        after = rows[-1]["grant_id"]
    async with pool.acquire() as conn, conn.transaction():
        for table, field in (("oauth_states", "code_verifier"), ("pending_revocations", "refresh_token")):
            for key, aad_id, blob in await connection_repository.sealed_values(conn, table):
                sealed = _resealed_if_stale(cipher, blob, field_aad(aad_id, field))
                if sealed is not None:
                    await connection_repository.update_sealed_value(conn, table, key, sealed)
                    changed += 1
    log.info("keys_rotated", key_id=cipher.current_kid, values_reencrypted=changed)
    return changed
