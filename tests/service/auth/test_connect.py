"""Connecting and reconnecting through the settings page and Google's (emulated) consent screen."""

from __future__ import annotations

import io
import logging
from datetime import timedelta
from typing import Any

import asyncpg
import structlog

from shared import messages as m
from shared.logs import configure_logging
from shared.rpc import RpcClient
from tests.service.auth import flow
from tests.service.auth.flow import Auth
from tests.support.helpers import eventually

EVENTS = "https://www.googleapis.com/auth/calendar.events"
CAL_LIST = "https://www.googleapis.com/auth/calendar.calendarlist.readonly"


async def _grant(db: asyncpg.Pool, user_id: str) -> asyncpg.Record | None:
    async with db.acquire() as conn:
        row: asyncpg.Record | None = await conn.fetchrow(
            "SELECT * FROM auth.grants WHERE user_id = $1", user_id
        )
        return row


async def test_connect_stores_the_grant_and_announces_it(
    auth: Auth, emulator: Any, clean_db: asyncpg.Pool, probe: Any
) -> None:
    """After Connect and consent the page says connected, the API agrees and grant.connected is published."""
    events = await probe(m.AUTH_EVENTS, "auth.grant.#")
    user_id, result = await flow.connect_new_user(auth)
    assert result.status == 200
    assert 'data-result="connected"' in result.text
    assert "alice@example.com" in result.text
    status = await auth.status(user_id)
    assert status["state"] == "connected"
    assert status["google_email"] == "alice@example.com"
    assert status["reason"] is None and status["since"]
    event = await events.next_of_type("grant.connected")
    assert event["user_id"] == user_id and event["cause"] == "connected"
    assert event["account_changed"] is False
    assert event["google_sub"] == emulator.user("alice@example.com").sub
    assert EVENTS in event["scopes"]


async def test_raw_grants_row_holds_no_token_in_plaintext(
    auth: Auth, emulator: Any, clean_db: asyncpg.Pool
) -> None:
    """Someone reading the grants table directly finds neither the refresh nor the access token."""
    await flow.connect_new_user(auth)
    refresh_token = emulator.refresh_tokens_of("alice@example.com")[0]
    access_tokens = emulator.access_tokens_of("alice@example.com")
    async with clean_db.acquire() as conn:
        dump = await conn.fetchval("SELECT string_agg(g::text, ' ') FROM auth.grants g")
        raw = b"".join(
            bytes(r["v"])
            for r in await conn.fetch(
                "SELECT refresh_token_enc AS v FROM auth.grants UNION ALL SELECT access_token_enc FROM auth.grants"
            )
        )
    secrets = [refresh_token, *access_tokens]
    assert secrets and all(s and s not in dump for s in secrets)
    assert all(s.encode() not in raw for s in secrets)
    assert refresh_token[:16] not in dump
    assert b"k1:" in raw  # every value names its key


async def test_consent_request_carries_offline_pkce_and_state(auth: Auth, clean_db: asyncpg.Pool) -> None:
    """Connect sends the user to Google asking for offline access, consent, PKCE S256 and our scopes."""
    async with flow.browser() as http:
        settings = await flow.open_settings(auth, http, await auth.link(flow.new_user_id()))
        params = flow.query_of(await flow.start_connect(auth, http, settings))
    assert params["response_type"] == "code"
    assert params["client_id"] == auth.config.google.client_id
    assert params["redirect_uri"] == auth.url + "/oauth/callback"
    assert params["scope"].split() == ["openid", "email", EVENTS, CAL_LIST]
    assert params["access_type"] == "offline"
    assert params["prompt"] == "consent"
    assert params["include_granted_scopes"] == "true"
    assert params["code_challenge_method"] == "S256"
    assert len(params["code_challenge"]) == 43 and len(params["state"]) >= 32
    assert "login_hint" not in params


async def test_declining_at_google_changes_nothing(auth: Auth, emulator: Any, clean_db: asyncpg.Pool) -> None:
    """Cancelling on Google's screen shows a page saying nothing changed, and nothing is stored."""
    emulator.set_consent("alice@example.com", deny=True)
    user_id, result = await flow.connect_new_user(auth)
    assert result.status == 200 and 'data-result="denied"' in result.text
    assert "Nothing was changed" in result.text
    assert (await auth.status(user_id))["state"] == "none"
    assert emulator.token_calls == 0


async def test_unticked_calendar_box_stores_nothing_and_names_the_box(
    auth: Auth, emulator: Any, clean_db: asyncpg.Pool
) -> None:
    """Without the calendar permission nothing is connected and the page names the box to tick."""
    emulator.set_consent("alice@example.com", granted_scopes=["openid", "email", CAL_LIST])
    user_id, result = await flow.connect_new_user(auth, locale="de")
    assert 'data-result="missing_scopes"' in result.text
    assert "Termine in allen Ihren Kalendern ansehen und bearbeiten" in result.text
    assert "Liste der Google-Kalender" not in result.text
    assert (await auth.status(user_id))["state"] == "none"
    assert await _grant(clean_db, user_id) is None


async def test_token_response_without_scope_means_requested_scopes(
    auth: Auth, emulator: Any, clean_db: asyncpg.Pool
) -> None:
    """A token response that leaves out `scope` grants what was asked for (RFC 6749), so it connects."""
    emulator.omit_scope_in_token_response(True)
    user_id, result = await flow.connect_new_user(auth)
    assert 'data-result="connected"' in result.text
    row = await _grant(clean_db, user_id)
    assert row is not None and EVENTS in row["scopes"] and CAL_LIST in row["scopes"]


async def test_reconnect_replaces_the_grant_in_place(
    auth: Auth, emulator: Any, clean_db: asyncpg.Pool, probe: Any
) -> None:
    """Reconnecting a disconnected grant keeps its id, clears the state and announces grant.connected."""
    events = await probe(m.AUTH_EVENTS, "auth.grant.connected")
    user_id = flow.new_user_id()
    async with flow.browser() as http:
        await flow.connect(auth, http, user_id)
        first = await _grant(clean_db, user_id)
        assert first is not None
        async with clean_db.acquire() as conn:
            await conn.execute(
                "UPDATE auth.grants SET state = 'disconnected', reason = 'revoked' WHERE user_id = $1",
                user_id,
            )
        assert (await auth.status(user_id))["reason"] == "revoked"
        settings = await flow.open_settings(auth, http, await auth.link(user_id))
        assert "Reconnect" in settings.text
        consent_url = await flow.start_connect(auth, http, settings)
        assert flow.query_of(consent_url)["login_hint"] == "alice@example.com"
        result = await flow.get(http, await flow.consent(http, consent_url))
    assert 'data-result="reconnected"' in result.text
    second = await _grant(clean_db, user_id)
    assert second is not None
    assert second["grant_id"] == first["grant_id"]
    assert second["refresh_token_enc"] != first["refresh_token_enc"]
    assert (await auth.status(user_id)) | {"since": None} == {
        "state": "connected",
        "reason": None,
        "since": None,
        "google_email": "alice@example.com",
    }
    assert (await events.next_json())["cause"] == "connected"
    again = await events.next_json()
    assert again["cause"] == "reconnected" and again["grant_id"] == first["grant_id"]
    assert again["account_changed"] is False
    assert emulator.revoked_tokens == []  # same account: the combined grant must stay alive


async def test_reconnect_with_another_account_is_announced_and_old_grant_revoked(
    auth: Auth, emulator: Any, clean_db: asyncpg.Pool, probe: Any
) -> None:
    """Choosing another Google account works, says so on the page and in the event, and frees the old one."""
    emulator.add_user("bob@example.com")
    events = await probe(m.AUTH_EVENTS, "auth.grant.connected")
    user_id = flow.new_user_id()
    async with flow.browser() as http:
        emulator.set_consent("alice@example.com")
        await flow.connect(auth, http, user_id)
        old_token = emulator.refresh_tokens_of("alice@example.com")[0]
        # login_hint names alice; the person picks bob on Google's account chooser instead
        settings = await flow.open_settings(auth, http, await auth.link(user_id))
        consent_url = (await flow.start_connect(auth, http, settings)).replace(
            "login_hint=alice", "login_hint=bob"
        )
        result = await flow.get(http, await flow.consent(http, consent_url))
    assert 'data-result="reconnected"' in result.text
    assert "alice@example.com" in result.text and "bob@example.com" in result.text
    await events.next_json()
    event = await events.next_json()
    assert event["account_changed"] is True
    assert event["previous_google_email"] == "alice@example.com"
    assert event["google_email"] == "bob@example.com"

    async def old_token_revoked() -> None:
        assert old_token in emulator.revoked_tokens

    await eventually(old_token_revoked)
    assert (await auth.status(user_id))["google_email"] == "bob@example.com"


async def test_round_trip_logs_no_secret(auth: Auth, emulator: Any, clean_db: asyncpg.Pool) -> None:
    """The log of a whole connect round trip holds no token, code, state, verifier or link signature."""
    stream = io.StringIO()
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    configure_logging("DEBUG", stream=stream)
    try:
        user_id = flow.new_user_id()
        link = await auth.link(user_id)
        async with flow.browser() as http:
            settings = await flow.open_settings(auth, http, link)
            callback = await flow.consent(http, await flow.start_connect(auth, http, settings))
            await flow.get(http, callback)
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
        structlog.reset_defaults()
    output = stream.getvalue()
    assert "grant_connected" in output and "settings_link_opened" in output
    secrets = [
        emulator.refresh_tokens_of("alice@example.com")[0],
        *emulator.access_tokens_of("alice@example.com"),
        flow.query_of(callback)["code"],
        flow.query_of(callback)["state"],
        link.split("token=")[1],
        link.split(".")[-1],
    ]
    for secret in secrets:
        assert secret not in output


async def test_a_reconnected_grant_in_use_is_refreshed_ahead_of_expiry(
    auth: Auth, clean_db: asyncpg.Pool, broker: Any
) -> None:
    """After a reconnect, a grant sync keeps using is due REFRESH_LEAD_SECONDS (plus jitter) before its
    new token expires, not on the idle schedule."""
    user_id = flow.new_user_id()
    client = RpcClient(broker)
    await client.start()
    lead = timedelta(seconds=auth.config.refresh.lead)
    async with flow.browser() as http:
        await flow.connect(auth, http, user_id)
        assert await _token_status(client, user_id) == "token"
        settings = await flow.open_settings(auth, http, await auth.link(user_id))
        result = await flow.get(
            http, await flow.consent(http, await flow.start_connect(auth, http, settings))
        )
        assert 'data-result="reconnected"' in result.text
    for _ in range(2):  # what the reconnect stored, and after sync's next request
        row = await _grant(clean_db, user_id)
        assert row is not None
        assert row["next_refresh_at"] <= row["access_expires_at"] - lead
        assert await _token_status(client, user_id) == "token"


async def _token_status(client: RpcClient, user_id: str) -> str:
    """What sync's token request for ``user_id`` is answered."""
    reply = await client.call(m.TokenRequested(user_id=user_id), timeout=10)
    assert isinstance(reply, m.TokenReply)
    return reply.status
