"""Deleting the connection (the help article's step 1), adding it again, and platform user deletion."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import aiohttp
import asyncpg

from shared import messages as m
from shared.amqp import Broker
from shared.clock import ManualClock
from tests.service.auth import flow
from tests.service.auth.flow import Auth, StartAuth
from tests.support.helpers import eventually


async def _token_rows(db: asyncpg.Pool, user_id: str) -> int:
    async with db.acquire() as conn:
        count: int = await conn.fetchval(
            "SELECT (SELECT count(*) FROM auth.grants WHERE user_id = $1)"
            " + (SELECT count(*) FROM auth.pending_revocations)",
            user_id,
        )
        return count


def _refresh_token_of(emulator: Any, email: str) -> str:
    token: str = emulator.refresh_tokens_of(email)[-1]
    return token


@asynccontextmanager
async def _alice_connected(
    start_auth: StartAuth, emulator: Any, probe: Any
) -> AsyncIterator[tuple[Auth, aiohttp.ClientSession, str, Any]]:
    """Auth with a fast revoke retry, no revocation hold (test_revocation_hold.py) and alice connected; yields auth, her browser, her user id and a
    probe of grant.deleted."""
    emulator.add_user("alice@example.com")
    events = await probe(m.AUTH_EVENTS, "auth.grant.deleted")
    user_id = flow.new_user_id()
    async with start_auth(revoke_retry_interval=0.05, revoke_hold=0) as auth, flow.browser() as http:
        await flow.connect(auth, http, user_id)
        yield auth, http, user_id, events


async def test_delete_with_confirmation_revokes_at_google_and_keeps_no_token(
    start_auth: StartAuth, emulator: Any, clean_db: asyncpg.Pool, probe: Any
) -> None:
    """Delete asks for a ticked box, then revokes at Google, forgets the tokens and says so."""
    async with _alice_connected(start_auth, emulator, probe) as (auth, http, user_id, events):
        token = _refresh_token_of(emulator, "alice@example.com")
        settings = await flow.open_settings(auth, http, await auth.link(user_id))
        confirm = await flow.get(http, auth.url + "/settings/delete")
        assert confirm.status == 200 and 'type="checkbox"' in confirm.text and "required" in confirm.text
        unticked = await flow.post(http, auth.url + "/settings/delete", {"csrf": flow.csrf_of(confirm)})
        assert unticked.status == 400 and (await auth.status(user_id))["state"] == "connected"
        done = await flow.post(
            http, auth.url + "/settings/delete", {"csrf": flow.csrf_of(settings), "confirm": "yes"}
        )
        assert done.status == 303 and done.location == "/settings?done=deleted"
        after = await flow.get(http, auth.url + done.location)
        assert "The connection was deleted" in after.text and 'data-state="none"' in after.text
        assert "Connect with Google" in after.text
        assert (await auth.status(user_id))["state"] == "none"
        event = await events.next_json()
        assert event["user_id"] == user_id and event["cause"] == "user_request"

        async def revoked_and_forgotten() -> None:
            assert token in emulator.revoked_tokens
            assert any(r.path == "/revoke" and r.method == "POST" for r in emulator.requests)
            assert await _token_rows(clean_db, user_id) == 0

        await eventually(revoked_and_forgotten)


async def test_failed_revoke_does_not_block_delete_and_is_retried(
    start_auth: StartAuth, emulator: Any, clean_db: asyncpg.Pool
) -> None:
    """With Google's revoke endpoint failing the deletion still happens; the revoke follows later."""
    emulator.add_user("alice@example.com")
    clock = ManualClock()
    user_id = flow.new_user_id()
    async with start_auth(clock=clock, revoke_retry_interval=0.05, revoke_hold=0) as auth:
        async with flow.browser() as http:
            await flow.connect(auth, http, user_id)
        token = _refresh_token_of(emulator, "alice@example.com")
        emulator.fail_for("/revoke", 503)
        async with aiohttp.ClientSession(headers=auth.api_headers) as api:
            async with api.delete(f"{auth.url}/api/v1/users/{user_id}/connection") as r:
                assert r.status == 204
            async with api.delete(f"{auth.url}/api/v1/users/{user_id}/connection") as r:
                assert r.status == 404
        assert (await auth.status(user_id))["state"] == "none"

        async def attempt_failed() -> None:
            async with clean_db.acquire() as conn:
                assert await conn.fetchval("SELECT attempts FROM auth.pending_revocations") == 1

        await eventually(attempt_failed)
        emulator.clear_faults()
        clock.advance(timedelta(hours=1))

        async def revoked() -> None:
            assert token in emulator.revoked_tokens
            assert await _token_rows(clean_db, user_id) == 0

        await eventually(revoked)


async def test_connection_can_be_added_again_after_delete(
    auth: Auth, emulator: Any, clean_db: asyncpg.Pool
) -> None:
    """After deleting, Connect works again and gives a fresh connection (step 2 of the article)."""
    user_id = flow.new_user_id()
    async with flow.browser() as http:
        await flow.connect(auth, http, user_id)
        settings = await flow.open_settings(auth, http, await auth.link(user_id))
        await flow.post(
            http, auth.url + "/settings/delete", {"csrf": flow.csrf_of(settings), "confirm": "yes"}
        )
        again = await flow.connect(auth, http, user_id)
    assert 'data-result="connected"' in again.text
    assert (await auth.status(user_id))["state"] == "connected"


async def test_platform_user_deletion_forgets_everything(
    start_auth: StartAuth, emulator: Any, clean_db: asyncpg.Pool, broker: Broker, probe: Any
) -> None:
    """When the platform deletes a user, auth drops every row about them and revokes the token."""
    async with _alice_connected(start_auth, emulator, probe) as (auth, _, user_id, events):
        token = _refresh_token_of(emulator, "alice@example.com")
        await broker.publish(m.UserDeleted(user_id=user_id))
        event = await events.next_json()
        assert event["cause"] == "user_deleted" and event["user_id"] == user_id

        async def forgotten() -> None:
            assert token in emulator.revoked_tokens
            async with clean_db.acquire() as conn:
                for table in ("grants", "oauth_states", "pending_revocations"):
                    assert await conn.fetchval(f"SELECT count(*) FROM auth.{table}") == 0, table

        await eventually(forgotten)
        assert (await auth.status(user_id))["state"] == "none"
