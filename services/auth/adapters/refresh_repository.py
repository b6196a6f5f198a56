"""asyncpg SQL for refresh, the circuit breaker, incidents and security events (auth schema).

Builds on ``connection_repository.GRANT_COLUMNS`` (the grants table is defined in 001_grants.sql;
010_refresh.sql adds the columns read here). Tokens arrive already encrypted.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from services.auth.adapters.connection_repository import GRANT_COLUMNS, grant_from_row
from services.auth.domain.model import RefreshGrant

EXTRA_COLUMNS = (
    "last_used_at, last_attempt_at, verdict_pending_since, verdict_pending_reason, expiring_announced_for"
)
EXTRA_NAMES = tuple(name.strip() for name in EXTRA_COLUMNS.split(","))


def refresh_grant_from_row(row: Mapping[str, Any]) -> RefreshGrant:
    """A ``RefreshGrant`` from a row holding ``GRANT_COLUMNS`` and ``EXTRA_COLUMNS``."""
    return RefreshGrant(grant_from_row(row), **{name: row[name] for name in EXTRA_NAMES})


async def lock_wait(conn: asyncpg.Connection, seconds: float | None) -> None:
    """Bound how long the transaction's next lock waits (None: the server default again)."""
    if seconds is None:
        await conn.execute("SET LOCAL lock_timeout TO DEFAULT")
    else:
        await conn.execute(f"SET LOCAL lock_timeout = {max(1, round(seconds * 1000))}")


async def load(
    conn: asyncpg.Connection, *, grant_id: str | None = None, user_id: str | None = None, lock: bool = False
) -> RefreshGrant | None:
    column, value = ("grant_id", grant_id) if grant_id is not None else ("user_id", user_id)
    suffix = " FOR UPDATE" if lock else ""
    row = await conn.fetchrow(
        f"SELECT {GRANT_COLUMNS}, {EXTRA_COLUMNS} FROM grants WHERE {column} = $1{suffix}",  # noqa: S608
        value,
    )
    return refresh_grant_from_row(row) if row is not None else None


async def claim_due(
    conn: asyncpg.Connection, now: datetime, lease_until: datetime, limit: int
) -> list[RefreshGrant]:
    """Connected grants due for refresh, row-locked for the caller's transaction (other replicas and
    schedulers skip them) and leased, so one that is claimed but left alone is not claimed at once."""
    rows = await conn.fetch(
        f"UPDATE grants SET next_refresh_at = $2 WHERE grant_id IN ("  # noqa: S608
        " SELECT grant_id FROM grants WHERE state = 'connected'"
        " AND (next_refresh_at IS NULL OR next_refresh_at <= $1)"
        " ORDER BY next_refresh_at LIMIT $3 FOR UPDATE SKIP LOCKED)"
        f" RETURNING {GRANT_COLUMNS}, {EXTRA_COLUMNS}",
        now,
        lease_until,
        limit,
    )
    return [refresh_grant_from_row(row) for row in rows]


async def mark_used(conn: asyncpg.Connection, grant_id: str, now: datetime, refresh_by: datetime) -> None:
    """Note that a token was handed out; a warm grant is refreshed before its token expires.

    Never waits: a row locked by a refresh in progress is left alone (that refresh is about to set the
    next due time anyway, and a later request notes the use)."""
    await conn.execute(
        "UPDATE grants SET last_used_at = $2, next_refresh_at = LEAST(COALESCE(next_refresh_at, $3), $3)"
        " WHERE grant_id = (SELECT grant_id FROM grants WHERE grant_id = $1 FOR UPDATE SKIP LOCKED)",
        grant_id,
        now,
        refresh_by,
    )


@dataclass(frozen=True)
class Refreshed:
    access_token_enc: bytes
    access_expires_at: datetime
    refresh_token_enc: bytes | None  # a rotated refresh token, or None to keep the stored one
    token_hash: str | None
    token_prefix_hash: str | None
    refresh_token_expires_at: datetime | None
    next_refresh_at: datetime
    last_used_at: datetime | None = None


async def _update_grant(conn: asyncpg.Connection, grant_id: str, assignments: str, *values: object) -> None:
    """``UPDATE grants SET <assignments>`` for one grant: ``$1`` is the grant id, ``values`` are $2, $3..."""
    await conn.execute(f"UPDATE grants SET {assignments} WHERE grant_id = $1", grant_id, *values)  # noqa: S608


async def save_refreshed(
    conn: asyncpg.Connection, grant_id: str, refreshed: Refreshed, now: datetime
) -> None:
    await _update_grant(
        conn,
        grant_id,
        "access_token_enc = $2, access_expires_at = $3,"
        " refresh_token_enc = COALESCE($4, refresh_token_enc), token_hash = COALESCE($5, token_hash),"
        " token_prefix_hash = COALESCE($6, token_prefix_hash),"
        " refresh_token_expires_at = COALESCE($7, refresh_token_expires_at), next_refresh_at = $8,"
        " last_refreshed_at = $9, last_attempt_at = $9, refresh_failures = 0, verdict_pending_since = NULL,"
        " verdict_pending_reason = NULL, updated_at = $9, last_used_at = COALESCE($10, last_used_at)",
        refreshed.access_token_enc,
        refreshed.access_expires_at,
        refreshed.refresh_token_enc,
        refreshed.token_hash,
        refreshed.token_prefix_hash,
        refreshed.refresh_token_expires_at,
        refreshed.next_refresh_at,
        now,
        refreshed.last_used_at,
    )


async def save_failure(
    conn: asyncpg.Connection, grant_id: str, *, failures: int, next_refresh_at: datetime, now: datetime
) -> None:
    sets = "refresh_failures = $2, next_refresh_at = $3, last_attempt_at = $4, updated_at = $4"
    await _update_grant(conn, grant_id, sets, failures, next_refresh_at, now)


async def reschedule(conn: asyncpg.Connection, grant_id: str, *, next_refresh_at: datetime) -> None:
    """A claimed grant left alone: its next due time, and no backoff pending."""
    await _update_grant(conn, grant_id, "next_refresh_at = $2, refresh_failures = 0", next_refresh_at)


async def disconnect(
    conn: asyncpg.Connection, grant_id: str, *, reason: str, detected_by: str, now: datetime
) -> None:
    """State disconnected with a reason; the access token is dropped (it is useless or unsafe)."""
    sets = (
        "state = 'disconnected', reason = $2, detected_by = $3, state_since = $4,"
        " access_token_enc = NULL, access_expires_at = NULL, next_refresh_at = NULL,"
        " last_attempt_at = $4, verdict_pending_since = NULL, verdict_pending_reason = NULL, updated_at = $4"
    )
    await _update_grant(conn, grant_id, sets, reason, detected_by, now)


async def hold_verdict(
    conn: asyncpg.Connection, grant_id: str, *, reason: str, now: datetime, next_refresh_at: datetime
) -> None:
    """The breaker holds a disconnect verdict back: the grant stays connected and is tried again."""
    await _update_grant(
        conn,
        grant_id,
        "verdict_pending_since = COALESCE(verdict_pending_since, $3), verdict_pending_reason = $2,"
        " last_attempt_at = $3, next_refresh_at = $4, updated_at = $3",
        reason,
        now,
        next_refresh_at,
    )


async def set_state(
    conn: asyncpg.Connection, grant_id: str, *, state: str, reason: str | None, now: datetime, **flags: object
) -> None:
    """Suspend or lift a suspension (``hijacked`` may be passed); refresh is due at once on lifting."""
    sets = (
        "state = $2, reason = $3, state_since = $4, updated_at = $4, hijacked = COALESCE($5, hijacked),"
        " next_refresh_at = CASE WHEN $2 = 'connected' THEN $4 ELSE next_refresh_at END"
    )
    await _update_grant(conn, grant_id, sets, state, reason, now, flags.get("hijacked"))


# --------------------------------------------------------------------------- breaker and incidents


async def lock_breaker(conn: asyncpg.Connection) -> datetime | None:
    """Serialise disconnect decisions; returns when the breaker was last reset by an operator.

    Lock order: a caller that needs grant rows takes them before this one (a refresh holds its grant,
    the reset updates held grants first). The row is recreated if it went missing, so the lock holds.
    """
    value: datetime | None = await conn.fetchval(
        "INSERT INTO breaker (id) VALUES (1) ON CONFLICT (id) DO UPDATE SET reset_at = breaker.reset_at"
        " RETURNING reset_at"
    )
    return value


async def window_counts(conn: asyncpg.Connection, since: datetime) -> tuple[int, int]:
    """(grants that died at refresh, grants attempted) since ``since``."""
    row = await conn.fetchrow(
        "SELECT count(*) FILTER (WHERE (state = 'disconnected' AND detected_by = 'refresh'"
        "   AND state_since >= $1) OR verdict_pending_since >= $1) AS dead,"
        " count(*) AS attempted FROM grants WHERE last_attempt_at >= $1",
        since,
    )
    assert row is not None
    return int(row["dead"]), int(row["attempted"])


async def open_incident(
    conn: asyncpg.Connection, kind: str, *, error: str | None, detail: str | None, now: datetime
) -> str | None:
    """Open an incident of ``kind``; None when one is already open (alert once per incident)."""
    incident_id = uuid.uuid4().hex
    value: str | None = await conn.fetchval(
        "INSERT INTO incidents (incident_id, kind, error, detail, opened_at) VALUES ($1, $2, $3, $4, $5)"
        " ON CONFLICT (kind) WHERE closed_at IS NULL DO NOTHING RETURNING incident_id",
        incident_id,
        kind,
        error,
        detail,
        now,
    )
    return value


async def open_incident_id(conn: asyncpg.Connection, kind: str) -> str | None:
    value: str | None = await conn.fetchval(
        "SELECT incident_id FROM incidents WHERE kind = $1 AND closed_at IS NULL", kind
    )
    return value


async def close_incident(conn: asyncpg.Connection, kind: str, now: datetime) -> str | None:
    value: str | None = await conn.fetchval(
        "UPDATE incidents SET closed_at = $2 WHERE kind = $1 AND closed_at IS NULL RETURNING incident_id",
        kind,
        now,
    )
    return value


async def retry_held_grants(conn: asyncpg.Connection, now: datetime, *, skip_locked: bool = False) -> int:
    """Make every grant held by the breaker due at once. ``skip_locked`` passes over grants whose row is
    locked (a refresh in progress: it judges the grant itself, after the reset commits)."""
    suffix = " FOR UPDATE SKIP LOCKED" if skip_locked else ""
    result: str = await conn.execute(
        "UPDATE grants SET next_refresh_at = $1 WHERE grant_id IN (SELECT grant_id FROM grants"  # noqa: S608
        f" WHERE verdict_pending_since IS NOT NULL AND state = 'connected'{suffix})",
        now,
    )
    return int(result.split()[-1])


async def held_grants_count(conn: asyncpg.Connection) -> int:
    """Connected grants whose death the breaker holds back (since their last state change)."""
    value = await conn.fetchval(
        "SELECT count(*) FROM grants WHERE verdict_pending_since IS NOT NULL AND state = 'connected'"
        " AND verdict_pending_since >= state_since"
    )
    return int(value)


async def grants_by_state(conn: asyncpg.Connection) -> dict[str, int]:
    rows = await conn.fetch("SELECT state, count(*) AS n FROM grants GROUP BY state")
    return {row["state"]: int(row["n"]) for row in rows}


async def set_breaker_reset(conn: asyncpg.Connection, now: datetime) -> None:
    """Start a fresh counting window (the caller holds the breaker row)."""
    await conn.execute("UPDATE breaker SET reset_at = $1 WHERE id = 1", now)


# --------------------------------------------------------------------------- expiry notices


async def expiring_candidates(conn: asyncpg.Connection, horizon: datetime, limit: int) -> list[RefreshGrant]:
    rows = await conn.fetch(
        f"SELECT {GRANT_COLUMNS}, {EXTRA_COLUMNS} FROM grants WHERE state = 'connected'"  # noqa: S608
        " AND refresh_token_expires_at <= $1"
        " AND (expiring_announced_for IS NULL"
        "  OR expiring_announced_for < refresh_token_expires_at - interval '1 day')"  # domain.SAME_END
        " ORDER BY refresh_token_expires_at LIMIT $2 FOR UPDATE SKIP LOCKED",
        horizon,
        limit,
    )
    return [refresh_grant_from_row(row) for row in rows]


async def mark_expiring_announced(conn: asyncpg.Connection, grant_id: str, expires_at: datetime) -> None:
    await _update_grant(conn, grant_id, "expiring_announced_for = $2", expires_at)


# --------------------------------------------------------------------------- security events


async def record_jti(conn: asyncpg.Connection, jti: str, event_types: list[str], now: datetime) -> bool:
    """Remember a SET; False when it was seen before."""
    value = await conn.fetchval(
        "INSERT INTO security_events (jti, event_types, received_at) VALUES ($1, $2, $3)"
        " ON CONFLICT DO NOTHING RETURNING true",
        jti,
        event_types,
        now,
    )
    return bool(value)


async def note_verification(conn: asyncpg.Connection, jti: str, state: str) -> None:
    """Keep the ``state`` of the verification event ``jti`` (recorded by ``record_jti``)."""
    await conn.execute("UPDATE security_events SET verification_state = $2 WHERE jti = $1", jti, state)


async def verification_received_at(conn: asyncpg.Connection, state: str) -> datetime | None:
    """When the first verification event carrying ``state`` arrived, if one did."""
    value: datetime | None = await conn.fetchval(
        "SELECT min(received_at) FROM security_events WHERE verification_state = $1", state
    )
    return value


async def grants_by_sub(conn: asyncpg.Connection, sub: str) -> list[RefreshGrant]:
    rows = await conn.fetch(
        f"SELECT {GRANT_COLUMNS}, {EXTRA_COLUMNS} FROM grants WHERE google_sub = $1 FOR UPDATE",  # noqa: S608
        sub,
    )
    return [refresh_grant_from_row(row) for row in rows]


async def grants_by_token(
    conn: asyncpg.Connection, *, token_hash: str | None, prefix_hash: str | None
) -> list[RefreshGrant]:
    rows = await conn.fetch(
        f"SELECT {GRANT_COLUMNS}, {EXTRA_COLUMNS} FROM grants"  # noqa: S608
        " WHERE ($1::text IS NOT NULL AND token_hash = $1) OR ($2::text IS NOT NULL AND token_prefix_hash = $2)"
        " FOR UPDATE",
        token_hash,
        prefix_hash,
    )
    return [refresh_grant_from_row(row) for row in rows]
