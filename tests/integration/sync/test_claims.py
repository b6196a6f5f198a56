"""The writer's claims against the real database: no appointment is ever claimed twice at once,
one user never has more than the allowed writes in flight, users take turns, upcoming
appointments come first, and only connected users with a calendar are claimed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest_asyncio

import services.sync
from services.sync.adapters import repository, user_state
from shared import db as shared_db

NOW = datetime(2030, 1, 7, 12, 0, tzinfo=UTC)
LEASE = NOW + timedelta(minutes=2)
MIGRATIONS = Path(services.sync.__file__).parent / "migrations"


@pytest_asyncio.fixture
async def pool(database_url: str, clean_db: asyncpg.Pool) -> AsyncIterator[asyncpg.Pool]:
    """A pool on the sync schema, migrated; tables are emptied after the test (clean_db)."""
    sync_pool = await shared_db.create_pool(database_url, schema="sync", application_name="test", max_size=6)
    await shared_db.migrate(sync_pool, "sync", [shared_db.SHARED_MIGRATIONS, MIGRATIONS])
    yield sync_pool
    await sync_pool.close()
    assert clean_db is not None


async def given(
    pool: asyncpg.Pool, user_id: str, count: int, *, state: str = "connected", hours: int = 1
) -> None:
    async with pool.acquire() as conn:
        await user_state.set_grant_state(conn, user_id, state, None, NOW)
        await conn.execute(
            "UPDATE grant_states SET calendar_id = $2 WHERE user_id = $1", user_id, f"{user_id}@x"
        )
        for number in range(count):
            starts = NOW + timedelta(hours=hours * (number + 1))
            row = {
                "appointment_id": f"{user_id}-{number}", "owner_user_id": user_id, "account_id": "acc",
                "version": 1, "cancelled": False, "starts_at": starts, "ends_at": starts + timedelta(hours=1),
            }  # fmt: skip
            await repository.record_change(conn, {}, row, NOW)


async def test_concurrent_claimers_never_get_the_same_appointment(pool: asyncpg.Pool) -> None:
    """Eight claimers racing over forty appointments: each appointment goes to exactly one."""
    for user in ("u1", "u2", "u3", "u4"):
        await given(pool, user, 10)
    claims = await asyncio.gather(
        *[repository.claim(pool, f"w{i}", NOW, LEASE, per_user=10, limit=5) for i in range(8)]
    )
    claimed = [row["appointment_id"] for rows in claims for row in rows]
    assert len(claimed) == len(set(claimed)) == 40


async def test_one_user_never_has_more_writes_in_flight_than_allowed(pool: asyncpg.Pool) -> None:
    """With two allowed per user, a big backlog gives two claims until one is settled."""
    await given(pool, "busy", 10)
    await given(pool, "quiet", 1)
    first = await repository.claim(pool, "w1", NOW, LEASE, per_user=2, limit=10)
    assert sorted(r["owner_user_id"] for r in first) == ["busy", "busy", "quiet"]
    assert await repository.claim(pool, "w2", NOW, LEASE, per_user=2, limit=10) == []
    async with pool.acquire() as conn:
        await repository.settle_synced(conn, first[0]["appointment_id"], "w1", 1, NOW)
    again = await repository.claim(pool, "w2", NOW, LEASE, per_user=2, limit=10)
    assert len(again) == (1 if first[0]["owner_user_id"] == "busy" else 0)


async def test_users_take_turns_and_upcoming_appointments_come_first(pool: asyncpg.Pool) -> None:
    """The first claims cover every user's soonest appointment before anyone's second one."""
    await given(pool, "a", 3)
    await given(pool, "b", 3)
    async with pool.acquire() as conn:
        past = {"appointment_id": "a-past", "owner_user_id": "a", "account_id": "acc", "version": 1,
                "cancelled": False, "starts_at": NOW - timedelta(days=1), "ends_at": NOW - timedelta(hours=23)}  # fmt: skip
        await repository.record_change(conn, {}, past, NOW)
    order = []
    for worker in range(8):
        rows = await repository.claim(pool, f"w{worker}", NOW, LEASE, per_user=10, limit=2)
        order.append(sorted(r["appointment_id"] for r in rows))
    assert order[0] == ["a-0", "b-0"] and order[1] == ["a-1", "b-1"]
    assert order[3] == ["a-past"]


async def test_only_connected_users_with_a_calendar_and_due_rows_are_claimed(pool: asyncpg.Pool) -> None:
    """Disconnected or deleted users' appointments, a backoff not yet over, and an open calendar
    problem keep rows waiting without a claim."""
    await given(pool, "gone", 2, state="disconnected")
    await given(pool, "deleted", 2, state="deleted")
    await given(pool, "problem", 1)
    await given(pool, "later", 1)
    async with pool.acquire() as conn:
        await user_state.open_calendar_problem(conn, "problem", "needs_consent", "problem@x", NOW)
        await conn.execute(
            "UPDATE appointments SET due_at = $1 WHERE owner_user_id = 'later'", NOW + timedelta(seconds=5)
        )
    assert await repository.claim(pool, "w", NOW, LEASE, per_user=5, limit=10) == []
    later = await repository.claim(pool, "w", NOW + timedelta(seconds=6), LEASE, per_user=5, limit=10)
    assert [r["appointment_id"] for r in later] == ["later-0"]


async def test_an_expired_lease_is_taken_over_and_the_old_claim_cannot_settle(pool: asyncpg.Pool) -> None:
    """A crashed writer's claim is claimed again after its lease; its late outcome is ignored."""
    await given(pool, "u1", 1)
    (row,) = await repository.claim(pool, "dead", NOW, NOW + timedelta(seconds=10), per_user=2, limit=1)
    assert await repository.claim(pool, "w", NOW + timedelta(seconds=5), LEASE, per_user=2, limit=1) == []
    (taken,) = await repository.claim(pool, "w", NOW + timedelta(seconds=11), LEASE, per_user=2, limit=1)
    assert taken["appointment_id"] == row["appointment_id"]
    async with pool.acquire() as conn:
        assert await repository.settle(conn, row["appointment_id"], "dead", {"state": "failed"}) is None
    assert await pool.fetchval("SELECT lease_owner FROM appointments") == "w"
