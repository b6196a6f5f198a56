"""End to end: the operator CLI (``calsync``) against auth, sync and the notifier running in-process
on the emulator, with a user connected through the real OAuth round trip and sync watching their
calendar: what an operator sees and does when a user says new appointments don't show in Google
(docs/operations.md), and the one-line errors when something is in the way."""

from __future__ import annotations

import json
import os
import re
import socket
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import aio_pika
import aiohttp
import asyncpg

from services.auth.adapters import crypto
from shared.amqp import Broker
from shared.config import CommonConfig, GoogleConfig
from tests.e2e.cli_support import operating
from tests.e2e.support import EMAIL, StartChain, plain
from tests.service.auth.flow import TEST_KEYS, browser
from tests.service.sync.support import booked
from tests.support.bus import user_url
from tests.support.helpers import eventually


async def test_user_shows_the_connection_calendar_channel_and_what_to_do(
    start_chain: StartChain, common_config: Callable[..., CommonConfig], google_config: GoogleConfig
) -> None:
    """`calsync user` names the connection's state, the Google account, the calendar, the live
    channel and the next step; `--json` carries the same for scripts."""
    async with operating(start_chain, common_config, google_config) as op:
        shown = await op.calsync("user", op.chain.user_id)
        assert shown.code == 0, shown.err
        lines = _fields(shown.out)
        assert lines["connection"].startswith("connected"), shown.out
        assert lines["google account"] == EMAIL
        assert lines["watch channel"].startswith("live"), shown.out
        assert "nothing is waiting" in lines["next step"], shown.out
        data = await op.user()
        assert data["connection"]["state"] == "connected" and data["sync"]["calendar_id"], data


def _fields(text: str) -> dict[str, str]:
    """The ``name   value`` lines (a name may have spaces, two or more end it) as a dict."""
    pairs = (re.split(r"\s{2,}", line, maxsplit=1) for line in text.splitlines())
    return {pair[0]: pair[1] for pair in pairs if len(pair) == 2}


async def test_connections_are_listed_by_state(
    start_chain: StartChain, common_config: Callable[..., CommonConfig], google_config: GoogleConfig
) -> None:
    """`calsync connections --state connected` lists the user; a state nobody is in lists nothing."""
    async with operating(start_chain, common_config, google_config) as op:
        connected = await op.calsync("connections", "--state", "connected")
        assert connected.code == 0, connected.err
        assert op.chain.user_id in connected.out and EMAIL in connected.out
        listed = (await op.calsync("connections", "--json", "--state", "connected")).json()
        assert [row["user_id"] for row in listed["connections"]] == [op.chain.user_id]
        none = await op.calsync("connections", "--state", "disconnected", "--reason", "revoked")
        assert (none.code, none.out.strip()) == (0, "no connection matches")


async def test_the_live_connection_test_passes_for_a_working_connection(
    start_chain: StartChain,
    common_config: Callable[..., CommonConfig],
    google_config: GoogleConfig,
    emulator: Any,
) -> None:
    """`calsync test-connection` runs the settings page's test: the token refresh, the probe write and
    its push pass, each said in words, exit 0; once access is removed at Google it fails, exit 1."""
    async with operating(start_chain, common_config, google_config) as op:
        tested = await op.calsync("test-connection", op.chain.user_id)
        assert tested.code == 0, tested.out + tested.err
        assert "testing user-e2e's connection" in tested.err
        assert [line.split()[:2] for line in tested.out.splitlines()[1:4]] == [
            ["grant", "ok"],
            ["calendar", "ok"],
            ["channel", "ok"],
        ], tested.out
        assert tested.out.splitlines()[-1] == "the connection works"
        emulator.revoke_user(EMAIL)
        failed = await op.calsync("test-connection", op.chain.user_id, "--json")
        assert failed.code == 1
        report = json.loads(failed.out)
        assert report["ok"] is False, report
        assert "failed" in [step["status"] for step in report["steps"]], report
        assert failed.err.startswith("testing")


async def test_a_reconnect_link_opens_the_users_settings_page(
    start_chain: StartChain, common_config: Callable[..., CommonConfig], google_config: GoogleConfig
) -> None:
    """`calsync reconnect-link` prints a signed settings link the user can open, in their language."""
    async with operating(start_chain, common_config, google_config) as op:
        made = await op.calsync("reconnect-link", op.chain.user_id, "--locale", "de", "--ttl", "600")
        assert made.code == 0, made.err
        url = made.out.splitlines()[0]
        assert url.startswith(f"{op.chain.auth.url}/settings?token=")
        async with browser() as http, http.get(url) as page:
            assert page.status == 200
            assert 'lang="de"' in await page.text()
        unknown = await op.calsync("reconnect-link", "nobody-here")
        assert unknown.code == 1 and "unknown user nobody-here" in unknown.err


async def test_a_disconnected_user_gets_the_alert_again_and_is_told_to_reconnect(
    start_chain: StartChain,
    common_config: Callable[..., CommonConfig],
    google_config: GoogleConfig,
    emulator: Any,
) -> None:
    """Access removed at Google: `calsync user` shows `disconnected (revoked)` and says to send a
    reconnect link; `calsync resend-alert` emails the alert once more, with a working link; with
    nothing wrong there is nothing to resend."""
    async with operating(start_chain, common_config, google_config) as op:
        user_id, mail = op.chain.user_id, op.chain.mail
        nothing = await op.calsync("resend-alert", user_id)
        assert nothing.code == 1 and nothing.err.startswith(f"calsync: nothing to resend for {user_id}:")
        emulator.revoke_user(EMAIL)
        op.chain.clock.advance(timedelta(hours=6))  # the grant's next refresh is due; it fails
        await mail.wait_for(timeout=15)
        lines = _fields((await op.calsync("user", user_id)).out)
        assert lines["connection"].startswith("disconnected (revoked)"), lines
        assert f"calsync reconnect-link {user_id}" in lines["next step"], lines
        revoked = await op.calsync("connections", "--state", "disconnected", "--reason", "revoked")
        assert user_id in revoked.out, revoked.out

        async def resync_refused() -> None:
            refused = await op.calsync("resync", user_id)
            assert refused.code == 1, refused.out
            assert refused.err == f"calsync: cannot resync {user_id}: the Google connection is disconnected\n"

        await eventually(resync_refused)
        again = await op.calsync("resend-alert", user_id)
        assert again.code == 0, again.err
        assert "alert (revoked) queued" in again.out

        async def second_alert() -> str:
            assert len(mail.received) == 2, len(mail.received)
            return plain(mail.messages[1])

        text = await eventually(second_alert, timeout=20)
        link = re.search(r"Reconnect Google Calendar:\s+(\S+)", text)
        assert link is not None, text
        async with browser() as http, http.get(link.group(1)) as page:
            assert page.status == 200 and "Reconnect" in await page.text()


async def test_resync_fetches_the_calendar_from_google_again(
    start_chain: StartChain, common_config: Callable[..., CommonConfig], google_config: GoogleConfig
) -> None:
    """`calsync resync` makes sync read the user's calendar from Google now: a new inbound run,
    requested by the operator, shows in `calsync user`."""
    async with operating(start_chain, common_config, google_config) as op:
        before = (await op.user())["sync"]["inbound"]["last_synced_at"]
        asked = await op.calsync("resync", op.chain.user_id)
        assert asked.code == 0, asked.err
        assert "requested" in asked.out

        async def ran_again() -> None:
            inbound = (await op.user())["sync"]["inbound"]
            assert inbound["requested_by"] == "operator" and inbound["last_synced_at"] > before, inbound
            assert inbound["state"] == "idle", inbound

        await eventually(ran_again, timeout=30)
        unknown = await op.calsync("resync", "nobody-here")
        assert (
            unknown.code == 1
            and unknown.err.strip() == "calsync: unknown user nobody-here: sync has no record of them"
        )


async def test_a_parked_appointment_is_written_after_the_fix_and_a_redrive(
    start_chain: StartChain,
    common_config: Callable[..., CommonConfig],
    google_config: GoogleConfig,
    broker: Broker,
    clean_db: asyncpg.Pool,
    broker_users: Any,
    amqp_url: str,
    amqp_prefix: str,
) -> None:
    """An appointment sync could not store (a database fault, retried until parked) is listed by
    `calsync dead-letters list` with its reason; after the fault is fixed, `redrive` sends it back
    with a progress line and sync writes it to Google."""
    sync_url = user_url(amqp_url, broker_users.of("sync"))
    async with operating(
        start_chain, common_config, google_config, AMQP_URL_SYNC=sync_url, AMQP_PREFIX=amqp_prefix
    ) as op:
        user_id = op.chain.user_id
        await clean_db.execute(FAULT)
        try:
            await broker.publish(booked("a-parked", user_id))

            async def parked() -> dict[str, Any]:
                listed: dict[str, Any] = (
                    await op.calsync("dead-letters", "list", "sync.appointments", "--json")
                ).json()
                assert listed["count"] == 1, listed
                return listed

            listed = await eventually(parked, timeout=30)
            assert "gave up after" in listed["messages"][0]["reason"], listed
            shown = await op.calsync("dead-letters", "list", "sync.appointments")
            assert "1 dead letter(s)" in shown.out and "appointment.created" in shown.out, shown.out
        finally:
            await clean_db.execute(FIX)
        again = await op.calsync("dead-letters", "redrive", "sync.appointments")
        assert again.code == 0, again.err
        assert "1 message(s) sent back" in again.out and "1/1" in again.err

        async def written() -> None:
            state = await _appointment(op.sync.url, op.env["SERVICE_TOKEN"], "a-parked")
            assert state["state"] == "synced", state

        await eventually(written, timeout=30)
        empty = await op.calsync("dead-letters", "list", "sync.appointments")
        assert "no dead letters" in empty.out


async def test_a_forged_appointment_stays_parked_after_a_redrive(
    start_chain: StartChain,
    common_config: Callable[..., CommonConfig],
    google_config: GoogleConfig,
    amqp_channel: aio_pika.abc.AbstractChannel,
    broker_users: Any,
    amqp_url: str,
    amqp_prefix: str,
) -> None:
    """An appointment nobody trusted published (no broker user of the platform on it) is parked;
    a redrive sends it back as sync's own user, and sync still sees the forger and parks it again."""
    sync_url = user_url(amqp_url, broker_users.of("sync"))
    async with operating(
        start_chain, common_config, google_config, AMQP_URL_SYNC=sync_url, AMQP_PREFIX=amqp_prefix
    ) as op:
        forged = booked("a-forged", op.chain.user_id)
        exchange = await amqp_channel.get_exchange(amqp_prefix + forged.EXCHANGE, ensure=False)
        body = aio_pika.Message(forged.to_json(), message_id=forged.message_id, type=forged.TYPE)
        await exchange.publish(body, routing_key=forged.ROUTING_KEY)

        async def parked() -> None:
            listed = (await op.calsync("dead-letters", "list", "sync.appointments", "--json")).json()
            assert listed["count"] == 1, listed
            assert "untrusted publisher" in listed["messages"][0]["reason"], listed

        await eventually(parked, timeout=30)
        again = await op.calsync("dead-letters", "redrive", "sync.appointments")
        assert again.code == 0 and "1 message(s) sent back" in again.out, again.err
        await eventually(parked, timeout=30)
        unknown = await _appointment(op.sync.url, op.env["SERVICE_TOKEN"], "a-forged", status=404)
        assert unknown == {"error": "unknown appointment"}


FAULT = """
CREATE FUNCTION sync.refuse_parked() RETURNS trigger LANGUAGE plpgsql AS
  $$BEGIN RAISE EXCEPTION 'disk full (test fault)'; END$$;
CREATE TRIGGER refuse_parked BEFORE INSERT ON sync.appointments
  FOR EACH ROW WHEN (NEW.appointment_id = 'a-parked') EXECUTE FUNCTION sync.refuse_parked();
"""
FIX = (
    "DROP TRIGGER IF EXISTS refuse_parked ON sync.appointments; DROP FUNCTION IF EXISTS sync.refuse_parked();"
)


async def _appointment(sync_url: str, token: str, appointment_id: str, status: int = 200) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    url = f"{sync_url}/api/v1/appointments/{appointment_id}/sync"
    async with aiohttp.ClientSession(headers=headers) as http, http.get(url) as r:
        assert r.status == status, r.status
        answer: dict[str, Any] = await r.json()
        return answer


async def test_refusals_are_one_line_errors_with_exit_code_1(
    start_chain: StartChain, common_config: Callable[..., CommonConfig], google_config: GoogleConfig
) -> None:
    """A wrong token, an unknown user, a service that is down and a missing setting each give one
    line on stderr and exit 1, from the program run as a process as from its in-process entry point."""
    async with operating(start_chain, common_config, google_config) as op:
        wrong = await op.program("user", op.chain.user_id, SERVICE_TOKEN="not-the-token")
        assert wrong.code == 1 and wrong.out == ""
        assert wrong.err == "calsync: auth refused the service token (401): check SERVICE_TOKEN\n"
        unknown = await op.calsync("user", "nobody-here")
        assert unknown.code == 1
        assert (
            unknown.err
            == "calsync: unknown user nobody-here: auth has no connection and sync no record of them\n"
        )
        down = await op.calsync("user", op.chain.user_id, SYNC_API_URL=f"http://127.0.0.1:{_closed_port()}")
        assert down.code == 1 and down.err.startswith("calsync: sync is unreachable at http://127.0.0.1:")
        assert len(down.err.splitlines()) == 1
        refused = await op.calsync("resend-alert", op.chain.user_id, SERVICE_TOKEN="not-the-token")
        assert (refused.code, refused.err) == (
            1,
            "calsync: notifier refused the service token (401): check SERVICE_TOKEN\n",
        )
        unset = await op.calsync("connections", AUTH_API_URL="")
        assert unset.code == 1 and unset.err.startswith("calsync: AUTH_API_URL is not set")
        ok = await op.program("user", op.chain.user_id, "--json")
        assert ok.code == 0 and ok.json()["connection"]["state"] == "connected", ok.err
        assert op.env["SERVICE_TOKEN"] not in ok.out + wrong.err + unknown.err


def _closed_port() -> int:
    """A port nothing listens on (just released by the kernel)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


NEW_KEY = ("k2", os.urandom(32))


async def test_rotate_keys_moves_every_stored_token_to_the_newest_key(
    start_chain: StartChain,
    common_config: Callable[..., CommonConfig],
    google_config: GoogleConfig,
    clean_db: asyncpg.Pool,
) -> None:
    """With a new key first in TOKEN_KEYS, `calsync rotate-keys` re-encrypts the tokens still under
    the old one, says so round by round, and the user stays connected."""
    async with operating(start_chain, common_config, google_config, token_keys=(NEW_KEY, *TEST_KEYS)) as op:
        await _seal_under(clean_db, op.chain.user_id, crypto.TokenCipher([*TEST_KEYS, NEW_KEY]))
        assert await _key_ids(clean_db, op.chain.user_id) == {TEST_KEYS[0][0]}
        rotated = await op.calsync("rotate-keys", "--json")
        assert rotated.json()["key_id"] == "k2" and rotated.json()["values_reencrypted"] == 2, rotated.out
        assert "round 1: 2 value(s) re-encrypted under k2" in rotated.err
        assert "round 2: 0 value(s)" in rotated.err
        assert await _key_ids(clean_db, op.chain.user_id) == {"k2"}
        assert (await op.user())["connection"]["state"] == "connected"


async def _seal_under(db: asyncpg.Pool, user_id: str, cipher: crypto.TokenCipher) -> None:
    """The user's stored tokens sealed again under ``cipher``'s first key (as before a rotation)."""
    row = await db.fetchrow(
        "SELECT grant_id, refresh_token_enc, access_token_enc FROM auth.grants WHERE user_id = $1", user_id
    )
    assert row is not None and row["access_token_enc"] is not None
    gid = row["grant_id"]
    old = [
        cipher.encrypt(
            cipher.decrypt(bytes(row[f"{f}_enc"]), aad=crypto.field_aad(gid, f)), aad=crypto.field_aad(gid, f)
        )
        for f in ("refresh_token", "access_token")
    ]
    await db.execute(
        "UPDATE auth.grants SET refresh_token_enc = $2, access_token_enc = $3 WHERE grant_id = $1", gid, *old
    )


async def _key_ids(db: asyncpg.Pool, user_id: str) -> set[str]:
    row = await db.fetchrow(
        "SELECT refresh_token_enc, access_token_enc FROM auth.grants WHERE user_id = $1", user_id
    )
    assert row is not None
    return {crypto.key_id(bytes(blob)) for blob in row.values() if blob is not None}
