"""asyncpg SQL for the auth schema: grants, OAuth states and pending revocations.

Tokens arrive here already encrypted (``crypto.TokenCipher``); this module never sees plaintext.
Functions take a connection so that callers compose them into one transaction with the outbox.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

import asyncpg

from services.auth.domain.model import Connection, Grant

GRANT_COLUMNS = (
    "grant_id, user_id, google_sub, google_email, state, reason, state_since, hijacked, scopes,"
    " refresh_token_enc, access_token_enc, access_expires_at, refresh_token_expires_at, token_hash,"
    " token_prefix_hash, next_refresh_at, last_refreshed_at, refresh_failures, created_at, updated_at"
)
GRANT_NAMES = tuple(name.strip() for name in GRANT_COLUMNS.split(","))


def grant_from_row(row: Mapping[str, Any]) -> Grant:
    """A ``Grant`` from a row holding ``GRANT_COLUMNS``."""
    data: dict[str, Any] = {name: row[name] for name in GRANT_NAMES}
    data["scopes"] = tuple(data["scopes"] or ())
    for name in ("refresh_token_enc", "access_token_enc"):
        data[name] = bytes(data[name]) if data[name] is not None else None
    return Grant(**data)


async def get_grant(conn: asyncpg.Connection, grant_id: str, *, for_update: bool = False) -> Grant | None:
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(f"SELECT {GRANT_COLUMNS} FROM grants WHERE grant_id = $1{lock}", grant_id)  # noqa: S608
    return grant_from_row(row) if row is not None else None


async def get_grant_by_user(
    conn: asyncpg.Connection, user_id: str, *, for_update: bool = False
) -> Grant | None:
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(f"SELECT {GRANT_COLUMNS} FROM grants WHERE user_id = $1{lock}", user_id)  # noqa: S608
    return grant_from_row(row) if row is not None else None


async def list_connections(
    conn: asyncpg.Connection, *, state: str | None, reason: str | None, limit: int
) -> list[asyncpg.Record]:
    """Users' connections for operators, newest state change first; ``state``/``reason`` filter when
    given. Only what an operator may see: no token column is read."""
    return list(
        await conn.fetch(
            "SELECT user_id, state, reason, state_since, google_email FROM grants"
            " WHERE ($1::text IS NULL OR state = $1) AND ($2::text IS NULL OR reason = $2)"
            " ORDER BY state_since DESC, user_id LIMIT $3",
            state,
            reason,
            limit,
        )
    )


async def last_used_at(conn: asyncpg.Connection, grant_id: str) -> datetime | None:
    """When a token of the grant was last handed out (migration 010), or None."""
    value: datetime | None = await conn.fetchval(
        "SELECT last_used_at FROM grants WHERE grant_id = $1", grant_id
    )
    return value


async def lock_user(conn: asyncpg.Connection, user_id: str) -> None:
    """Serialise connects of one user for this transaction (the row may not exist yet to lock)."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('auth.grant:' || $1))", user_id)


async def save_connection(conn: asyncpg.Connection, connection: Connection, now: datetime) -> None:
    """Insert the user's grant, or replace it in place (same grant_id): connected, failures cleared.

    Also clears refresh bookkeeping of migration 010 (held verdicts, expiry announcement)."""
    await conn.execute(
        "INSERT INTO grants (grant_id, user_id, google_sub, google_email, state, reason, state_since,"
        " hijacked, scopes, refresh_token_enc, access_token_enc, access_expires_at,"
        " refresh_token_expires_at, token_hash, token_prefix_hash, next_refresh_at, last_refreshed_at,"
        " refresh_failures, created_at, updated_at)"
        " VALUES ($1, $2, $3, $4, 'connected', NULL, $13, false, $5, $6, $7, $8, $9, $10, $11, $12, $13,"
        " 0, $13, $13)"
        " ON CONFLICT (user_id) DO UPDATE SET google_sub = $3, google_email = $4, state = 'connected',"
        " reason = NULL, state_since = $13, hijacked = false, scopes = $5, refresh_token_enc = $6,"
        " access_token_enc = $7, access_expires_at = $8, refresh_token_expires_at = $9, token_hash = $10,"
        " token_prefix_hash = $11, next_refresh_at = $12, last_refreshed_at = $13, refresh_failures = 0,"
        " updated_at = $13, verdict_pending_since = NULL, verdict_pending_reason = NULL,"
        " expiring_announced_for = NULL, detected_by = NULL",
        connection.grant_id,
        connection.user_id,
        connection.google_sub,
        connection.google_email,
        list(connection.scopes),
        connection.refresh_token_enc,
        connection.access_token_enc,
        connection.access_expires_at,
        connection.refresh_token_expires_at,
        connection.token_hash,
        connection.token_prefix_hash,
        connection.next_refresh_at,
        now,
    )


async def delete_grant(conn: asyncpg.Connection, grant_id: str) -> None:
    await conn.execute("DELETE FROM grants WHERE grant_id = $1", grant_id)


# --------------------------------------------------------------------------- OAuth states


@dataclass(frozen=True)
class OAuthState:
    """A pending consent: who started it, in which browser, with which PKCE verifier (encrypted)."""

    state_hash: str
    user_id: str
    locale: str
    browser_hash: str
    code_verifier_enc: bytes
    login_hint: str | None
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None


async def insert_state(conn: asyncpg.Connection, state: OAuthState) -> None:
    await conn.execute(
        "INSERT INTO oauth_states (state_hash, user_id, locale, browser_hash, code_verifier_enc,"
        " login_hint, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        state.state_hash,
        state.user_id,
        state.locale,
        state.browser_hash,
        state.code_verifier_enc,
        state.login_hint,
        state.created_at,
        state.expires_at,
    )


async def get_state_for_update(conn: asyncpg.Connection, state_hash: str) -> OAuthState | None:
    row = await conn.fetchrow(
        "SELECT state_hash, user_id, locale, browser_hash, code_verifier_enc, login_hint, created_at,"
        " expires_at, used_at FROM oauth_states WHERE state_hash = $1 FOR UPDATE",
        state_hash,
    )
    if row is None:
        return None
    data = dict(row)
    data["code_verifier_enc"] = bytes(data["code_verifier_enc"])
    return OAuthState(**data)


async def mark_state_used(conn: asyncpg.Connection, state_hash: str, now: datetime) -> bool:
    """Mark a state used; False when it already was (a concurrent or repeated callback)."""
    status = await conn.execute(
        "UPDATE oauth_states SET used_at = $2 WHERE state_hash = $1 AND used_at IS NULL", state_hash, now
    )
    return bool(status == "UPDATE 1")


async def delete_old_states(conn: asyncpg.Connection, before: datetime) -> int:
    status = await conn.execute("DELETE FROM oauth_states WHERE expires_at < $1", before)
    return int(status.split()[-1])


# --------------------------------------------------------------------------- pending revocations


@dataclass(frozen=True)
class Revocation:
    revocation_id: str
    grant_id: str
    user_id: str | None
    token_enc: bytes
    reason: str
    attempts: int


class Hold(NamedTuple):
    """A revocation held back until ``until`` for the user whose digest (``user_digest``) is ``user``."""

    until: datetime
    user: str


async def add_revocation(
    conn: asyncpg.Connection,
    *,
    revocation_id: str,
    grant_id: str,
    user_id: str | None,
    token_enc: bytes,
    reason: str,
    now: datetime,
    hold: Hold | None = None,
) -> None:
    """Queue a revocation, due at ``now`` or, when held, at the end of its ``hold``."""
    await conn.execute(
        "INSERT INTO pending_revocations (revocation_id, grant_id, user_id, token_enc, reason,"
        " next_attempt_at, created_at, held_until, held_for) VALUES ($1, $2, $3, $4, $5, $7, $6, $8, $9)",
        revocation_id,
        grant_id,
        user_id,
        token_enc,
        reason,
        now,
        hold.until if hold else now,
        hold.until if hold else None,
        hold.user if hold else None,
    )


def user_digest(user_id: str) -> str:
    """What a held revocation keeps of its user: matches them after the platform deleted them."""
    return hashlib.sha256(user_id.encode()).hexdigest()


@dataclass(frozen=True)
class HeldRevocation:
    revocation_id: str
    grant_id: str
    token_enc: bytes


async def held_revocation(
    conn: asyncpg.Connection, *, grant_id: str, user_id: str, now: datetime
) -> HeldRevocation | None:
    """The grant's revocation while it is still held for the user (not released, not run out)."""
    row = await conn.fetchrow(
        "SELECT revocation_id, grant_id, token_enc FROM pending_revocations"
        " WHERE grant_id = $1 AND held_for = $2 AND held_until > $3 LIMIT 1",
        grant_id,
        user_digest(user_id),
        now,
    )
    if row is None:
        return None
    return HeldRevocation(row["revocation_id"], row["grant_id"], bytes(row["token_enc"]))


async def release_held(conn: asyncpg.Connection, *, grant_id: str, user_id: str, now: datetime) -> int:
    """End the hold of the grant's revocations for the user: due now. Returns how many were still held
    (one whose hold ran out is already due, or retrying on its own schedule)."""
    status: str = await conn.execute(
        "UPDATE pending_revocations SET held_until = NULL, held_for = NULL,"
        " next_attempt_at = $3 WHERE grant_id = $1 AND held_for = $2 AND held_until > $3",
        grant_id,
        user_digest(user_id),
        now,
    )
    return int(status.split()[-1])


async def claim_due_revocations(conn: asyncpg.Connection, now: datetime, limit: int) -> list[Revocation]:
    """Due revocations, locked for this transaction (other replicas skip them)."""
    rows = await conn.fetch(
        "SELECT revocation_id, grant_id, user_id, token_enc, reason, attempts FROM pending_revocations"
        " WHERE next_attempt_at <= $1 ORDER BY next_attempt_at LIMIT $2 FOR UPDATE SKIP LOCKED",
        now,
        limit,
    )
    return [
        Revocation(
            r["revocation_id"], r["grant_id"], r["user_id"], bytes(r["token_enc"]), r["reason"], r["attempts"]
        )
        for r in rows
    ]


async def finish_revocation(conn: asyncpg.Connection, revocation_id: str) -> None:
    await conn.execute("DELETE FROM pending_revocations WHERE revocation_id = $1", revocation_id)


async def postpone_revocation(
    conn: asyncpg.Connection, revocation_id: str, *, next_attempt_at: datetime, error: str
) -> None:
    await conn.execute(
        "UPDATE pending_revocations SET attempts = attempts + 1, next_attempt_at = $2, last_error = $3"
        " WHERE revocation_id = $1",
        revocation_id,
        next_attempt_at,
        error[:300],
    )


# --------------------------------------------------------------------------- user deletion


async def forget_user(conn: asyncpg.Connection, user_id: str) -> None:
    """Remove every row naming the user (pending revocations keep only the token, to finish revoking)."""
    await conn.execute("DELETE FROM grants WHERE user_id = $1", user_id)
    await conn.execute("DELETE FROM oauth_states WHERE user_id = $1", user_id)
    await conn.execute("UPDATE pending_revocations SET user_id = NULL WHERE user_id = $1", user_id)


# --------------------------------------------------------------------------- key rotation


async def grant_ciphertexts(conn: asyncpg.Connection, after: str, limit: int) -> list[asyncpg.Record]:
    """A batch of grants' ciphertexts, locked so that a concurrent refresh cannot be overwritten."""
    rows: list[asyncpg.Record] = await conn.fetch(
        "SELECT grant_id, refresh_token_enc, access_token_enc FROM grants WHERE grant_id > $1"
        " ORDER BY grant_id LIMIT $2 FOR UPDATE",
        after,
        limit,
    )
    return rows


async def update_grant_ciphertexts(
    conn: asyncpg.Connection, grant_id: str, refresh_token_enc: bytes | None, access_token_enc: bytes | None
) -> None:
    await conn.execute(
        "UPDATE grants SET refresh_token_enc = $2, access_token_enc = $3 WHERE grant_id = $1",
        grant_id,
        refresh_token_enc,
        access_token_enc,
    )


# Tables holding one sealed value a row: (row key, sealed column, the id the value's AAD names).
_SEALED_COLUMNS: dict[str, tuple[str, str, str]] = {
    "oauth_states": ("state_hash", "code_verifier_enc", "state_hash"),
    "pending_revocations": ("revocation_id", "token_enc", "grant_id"),
}


async def sealed_values(conn: asyncpg.Connection, table: str) -> list[tuple[str, str, bytes]]:
    """Every ``(row key, AAD id, sealed value)`` of ``table``, locked for this transaction."""
    key, column, aad_id = _SEALED_COLUMNS[table]
    rows = await conn.fetch(f"SELECT {key}, {aad_id}, {column} FROM {table} FOR UPDATE")  # noqa: S608
    return [(str(r[0]), str(r[1]), bytes(r[2])) for r in rows]


async def update_sealed_value(conn: asyncpg.Connection, table: str, key_value: str, blob: bytes) -> None:
    key, column, _ = _SEALED_COLUMNS[table]
    await conn.execute(f"UPDATE {table} SET {column} = $2 WHERE {key} = $1", key_value, blob)  # noqa: S608


# --- refresh (auth B)
