"""A deleted grant's revoke is held until sync has stopped its watch channels (channels.stopped) or
the hold runs out; meanwhile sync gets tokens for the deleted grant (for_deleted_grant)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import asyncpg

from shared import messages as m
from shared.amqp import Broker
from shared.config import BrokerUsers
from shared.rpc import RpcClient
from tests.conftest import Parked
from tests.service.auth.flow import Auth, StartAuth, browser, connect, new_user_id
from tests.support.bus import PublishingBroker
from tests.support.helpers import eventually

EMAIL = "alice@example.com"
LONG_HOLD = 600.0  # seconds: only channels.stopped can end it within a test


@asynccontextmanager
async def _connected(
    start_auth: StartAuth, emulator: Any, db: asyncpg.Pool, *, hold: float
) -> AsyncIterator[tuple[Auth, str, str]]:
    """Auth with a fast revocation job and the given hold, alice connected; yields auth, her user id
    and her grant id."""
    emulator.add_user(EMAIL)
    user_id = new_user_id()
    async with start_auth(revoke_retry_interval=0.05, revoke_hold=hold) as auth:
        async with browser() as http:
            await connect(auth, http, user_id)
        async with db.acquire() as conn:
            grant_id: str = await conn.fetchval(
                "SELECT grant_id FROM auth.grants WHERE user_id = $1", user_id
            )
        yield auth, user_id, grant_id


async def _delete(auth: Auth, user_id: str) -> None:
    url = f"{auth.url}/api/v1/users/{user_id}/connection"
    async with aiohttp.ClientSession(headers=auth.api_headers) as api, api.delete(url) as r:
        assert r.status == 204


async def _token_for_deleted(broker: Broker, user_id: str, grant_id: str) -> m.TokenReply:
    client = RpcClient(broker)
    await client.start()
    reply = await client.call(m.TokenRequested(user_id=user_id, for_deleted_grant=grant_id), timeout=10)
    assert isinstance(reply, m.TokenReply)
    return reply


def _revoke_calls(emulator: Any) -> int:
    return sum(1 for r in emulator.requests if r.path == "/revoke")


async def _held_rows(db: asyncpg.Pool) -> int:
    async with db.acquire() as conn:
        count: int = await conn.fetchval(
            "SELECT count(*) FROM auth.pending_revocations WHERE held_until IS NOT NULL"
        )
        return count


async def test_revoke_waits_for_channels_stopped_from_sync_only(
    start_auth: StartAuth,
    emulator: Any,
    clean_db: asyncpg.Pool,
    broker: PublishingBroker,
    broker_users: BrokerUsers,
    amqp_prefix: str,
    parked: Parked,
) -> None:
    """After a delete nothing is revoked while the hold lasts; sync gets a token Google accepts; a
    channels.stopped forged by another broker user is dead-lettered and releases nothing; sync's own
    releases the hold, the token is revoked and the deleted grant gives no token any more."""
    async with _connected(start_auth, emulator, clean_db, hold=LONG_HOLD) as (auth, user_id, grant_id):
        refresh_token = emulator.refresh_tokens_of(EMAIL)[-1]
        await _delete(auth, user_id)
        assert (await auth.status(user_id))["state"] == "none"
        assert await _held_rows(clean_db) == 1

        held = await _token_for_deleted(broker, user_id, grant_id)
        assert held.status == "token" and held.access_token is not None
        assert emulator.access_token_for(held.access_token) is not None
        other = await _token_for_deleted(broker, "someone-else", grant_id)
        assert other.status == "no_grant" and other.access_token is None

        stopped = m.ChannelsStopped(user_id=user_id, grant_id=grant_id, stopped=1)
        notifier = await broker.as_publisher("notifier")
        await notifier.publish_raw(
            "", amqp_prefix + "auth.sync_events", stopped.to_json(), message_id=stopped.message_id
        )
        (dead,) = await parked("auth.sync_events")
        assert dead.headers["x-calsync-reason"] == (
            f"untrusted publisher '{broker_users.notifier}' for channels.stopped"
        )
        assert await _held_rows(clean_db) == 1
        assert _revoke_calls(emulator) == 0 and refresh_token not in emulator.revoked_tokens

        await broker.publish(stopped)  # as sync

        async def revoked() -> None:
            assert refresh_token in emulator.revoked_tokens
            async with clean_db.acquire() as conn:
                assert await conn.fetchval("SELECT count(*) FROM auth.pending_revocations") == 0

        await eventually(revoked)
        assert _revoke_calls(emulator) == 1
        assert emulator.access_token_for(held.access_token) is None
        after = await _token_for_deleted(broker, user_id, grant_id)
        assert after.status == "no_grant" and after.access_token is None

        again = m.ChannelsStopped(user_id=user_id, grant_id=grant_id, stopped=1)
        await broker.publish(again)  # a late second report has nothing to release
        await broker.publish(stopped)  # a redelivery is a duplicate

        async def both_consumed() -> None:
            async with clean_db.acquire() as conn:
                ids = await conn.fetch(
                    "SELECT message_id FROM auth.processed_messages WHERE consumer LIKE '%auth.sync_events'"
                )
            assert {r["message_id"] for r in ids} == {stopped.message_id, again.message_id}

        await eventually(both_consumed)
        assert (await _token_for_deleted(broker, user_id, grant_id)).status == "no_grant"
        assert _revoke_calls(emulator) == 1


async def test_hold_runs_out_without_channels_stopped(
    start_auth: StartAuth, emulator: Any, clean_db: asyncpg.Pool, broker: Broker
) -> None:
    """Without channels.stopped the revoke happens when the hold ends; then no token is given."""
    async with _connected(start_auth, emulator, clean_db, hold=1.0) as (auth, user_id, grant_id):
        refresh_token = emulator.refresh_tokens_of(EMAIL)[-1]
        await _delete(auth, user_id)

        async def revoked() -> None:
            assert refresh_token in emulator.revoked_tokens

        await eventually(revoked)
        after = await _token_for_deleted(broker, user_id, grant_id)
        assert after.status == "no_grant" and after.access_token is None


async def test_platform_user_deletion_holds_the_revoke_too(
    start_auth: StartAuth, emulator: Any, clean_db: asyncpg.Pool, broker: Broker
) -> None:
    """A user deleted on the platform is forgotten at once, yet sync can still get a token for the
    deleted grant until it reports the channels stopped; a dead token answers disconnected."""
    async with _connected(start_auth, emulator, clean_db, hold=LONG_HOLD) as (_auth, user_id, grant_id):
        refresh_token = emulator.refresh_tokens_of(EMAIL)[-1]
        await broker.publish(m.UserDeleted(user_id=user_id))

        async def forgotten() -> None:
            async with clean_db.acquire() as conn:
                assert await conn.fetchval("SELECT count(*) FROM auth.grants") == 0
                assert (
                    await conn.fetchval(
                        "SELECT count(*) FROM auth.pending_revocations WHERE user_id IS NOT NULL"
                    )
                    == 0
                )
            assert await _held_rows(clean_db) == 1

        await eventually(forgotten)
        held = await _token_for_deleted(broker, user_id, grant_id)
        assert held.status == "token" and emulator.access_token_for(held.access_token or "") is not None
        assert _revoke_calls(emulator) == 0

        await broker.publish(m.ChannelsStopped(user_id=user_id, grant_id=grant_id, stopped=0, abandoned=1))

        async def revoked() -> None:
            assert refresh_token in emulator.revoked_tokens

        await eventually(revoked)


async def test_a_dead_deleted_grant_answers_disconnected(
    start_auth: StartAuth, emulator: Any, clean_db: asyncpg.Pool, broker: Broker
) -> None:
    """If Google no longer honours the held token (invalid_grant), sync is told disconnected."""
    async with _connected(start_auth, emulator, clean_db, hold=LONG_HOLD) as (auth, user_id, grant_id):
        await _delete(auth, user_id)
        emulator.revoke_user(EMAIL)
        dead = await _token_for_deleted(broker, user_id, grant_id)
        assert (dead.status, dead.reason, dead.access_token) == ("disconnected", "revoked", None)
