"""Cross-Account Protection: Google's signed security events act at once; forged ones change nothing."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import aiohttp
from cryptography.hazmat.primitives.asymmetric import rsa

from shared.clock import ManualClock
from tests.support.helpers import eventually

from .refresh_support import add_grant, grant_row, refresh_config, running

REFETCH = 5  # seconds between key fetches in the rotation test: wide enough for a loaded machine


async def test_token_revoked_disconnects_at_once(
    common_config: Any, google_config: Any, emulator: Any, clean_db: Any, probe: Any
) -> None:
    """A token-revoked event (by hash or by prefix) disconnects the grant before any refresh, and a
    duplicate delivery is accepted without a second effect."""
    clock = ManualClock()
    events = await probe("auth.events", "auth.grant.#")
    async with running(refresh_config(common_config("auth"), google_config), clock) as url:
        a = await add_grant(clean_db, emulator, clock)
        b = await add_grant(clean_db, emulator, clock)
        subject = emulator.subject_token(a["refresh_token"], "hash_base64_sha512_sha512")
        claims = emulator.build_set("token-revoked", subject)
        token = emulator.sign_set(claims)
        assert await emulator.post_set(url + "/risc", token) == 202
        first = await events.next_of_type("grant.disconnected")
        assert await emulator.post_set(url + "/risc", token) == 202  # duplicate jti
        status = await emulator.send_security_event(
            url + "/risc", "token-revoked", emulator.subject_token(b["refresh_token"], "prefix")
        )
        assert status == 202
        second = await events.next_of_type("grant.disconnected")
    assert (first["grant_id"], first["reason"], first["detected_by"]) == (
        a["grant_id"],
        "revoked",
        "security_event",
    )
    assert second["grant_id"] == b["grant_id"]
    assert emulator.token_calls == 0
    assert events.pending() == 0


async def test_account_disabled_then_enabled(
    common_config: Any, google_config: Any, emulator: Any, clean_db: Any, probe: Any
) -> None:
    """account-disabled (hijacking) suspends the grant without naming the mailbox; account-enabled
    restores it and one refresh checks its real state."""
    clock = ManualClock()
    events = await probe("auth.events", "auth.grant.#")
    async with running(refresh_config(common_config("auth"), google_config), clock) as url:
        g = await add_grant(clean_db, emulator, clock)
        subject = emulator.subject_iss_sub(g["sub"])
        assert (
            await emulator.send_security_event(url + "/risc", "account-disabled", subject, reason="hijacking")
            == 202
        )
        suspended = await events.next_of_type("grant.suspended")
        row = await grant_row(clean_db, g["grant_id"])
        assert (row["state"], row["reason"], row["hijacked"]) == ("suspended", "security_block", True)
        assert await emulator.send_security_event(url + "/risc", "account-enabled", subject) == 202
        lifted = await events.next_of_type("grant.connected")
    assert suspended["hijacking"] is True and suspended["google_email"] is None
    assert lifted["cause"] == "suspension_lifted" and lifted["grant_id"] == g["grant_id"]
    assert (await grant_row(clean_db, g["grant_id"]))["state"] == "connected"


async def test_forged_or_tampered_tokens_get_400(
    common_config: Any, google_config: Any, emulator: Any, clean_db: Any
) -> None:
    """A token signed by another key, tampered, for another audience or issuer is answered 400, one
    with an unknown kid right after the keys were fetched 503 (retry later), and nothing changes."""
    clock = ManualClock()
    async with running(refresh_config(common_config("auth"), google_config), clock) as url:
        g = await add_grant(clean_db, emulator, clock)
        subject = emulator.subject_iss_sub(g["sub"])
        claims = emulator.build_set("tokens-revoked", subject)
        other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        good = emulator.sign_set(claims)
        head, body, sig = good.split(".")
        tampered_body = body[:-4] + ("AAAA" if body[-4:] != "AAAA" else "BBBB")
        forged = [
            emulator.sign_set(claims, key=other_key),
            emulator.sign_set(claims, key=other_key, kid="no-such-kid"),
            f"{head}.{tampered_body}.{sig}",
            emulator.sign_set({**claims, "aud": "someone-else.apps.googleusercontent.com"}),
            emulator.sign_set({**claims, "iss": "https://evil.example/"}),
            "not a jwt",
        ]
        for token in forged:
            expected = 503 if token == forged[1] else 400  # an unknown kid is judged after the next fetch
            assert await emulator.post_set(url + "/risc", token) == expected
        row = await grant_row(clean_db, g["grant_id"])
        async with clean_db.acquire() as conn:
            seen = await conn.fetchval("SELECT count(*) FROM auth.security_events")
    assert row["state"] == "connected" and seen == 0


async def test_rotated_key_is_fetched_on_unknown_kid(
    common_config: Any, google_config: Any, emulator: Any, clean_db: Any
) -> None:
    """After Google rotates its signing key, the first event with the new kid makes auth refetch the
    keys and the event is accepted."""
    clock = ManualClock()
    config = replace(refresh_config(common_config("auth"), google_config), risc_refetch_interval=0.0)
    async with running(config, clock) as url:
        assert await emulator.send_security_event(url + "/risc", "verification", {"state": "x"}) == 202
        emulator.rotate_risc_key()
        assert await emulator.send_security_event(url + "/risc", "verification", {"state": "y"}) == 202


async def test_flood_of_unknown_kids_fetches_the_keys_at_most_once(
    common_config: Any, google_config: Any, emulator: Any, clean_db: Any
) -> None:
    """Anyone can POST to /risc: a flood of tokens naming unknown keys is answered "retry later" (503)
    at once and makes auth fetch Google's keys at most once per interval, while a genuine event is
    still accepted."""
    clock = ManualClock()
    async with running(refresh_config(common_config("auth"), google_config), clock) as url:
        assert await emulator.send_security_event(url + "/risc", "verification", {"state": "x"}) == 202
        fetched = _key_fetches(emulator)
        other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        claims = emulator.build_set("verification", {"state": "y"})
        flood = [emulator.sign_set(claims, key=other_key, kid=f"unknown-{i}") for i in range(50)]
        statuses = [await emulator.post_set(url + "/risc", token) for token in flood[:20]]  # one by one
        statuses += await asyncio.gather(*(emulator.post_set(url + "/risc", t) for t in flood[20:]))
        genuine = await emulator.send_security_event(url + "/risc", "verification", {"state": "z"})
    assert set(statuses) == {503} and genuine == 202
    assert fetched == 1 and _key_fetches(emulator) <= fetched + 1


def _key_fetches(emulator: Any) -> int:
    return sum(1 for r in emulator.requests if r.path == "/oauth2/v3/certs")


async def test_event_signed_with_a_just_rotated_key_is_never_refused(
    common_config: Any, google_config: Any, emulator: Any, clean_db: Any
) -> None:
    """When an unknown kid has just used up the key fetch, a genuine event signed with Google's freshly
    rotated key is answered 503 with Retry-After (Google delivers it again), never 400, and is
    accepted once a fetch is allowed again."""
    clock = ManualClock()
    config = replace(refresh_config(common_config("auth"), google_config), risc_refetch_interval=REFETCH)
    intruder = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    async with running(config, clock) as url:
        assert await emulator.send_security_event(url + "/risc", "verification", {"state": "x"}) == 202
        bogus = emulator.sign_set(
            emulator.build_set("verification", {"state": "b"}), key=intruder, kid="bogus"
        )
        assert await emulator.post_set(url + "/risc", bogus) == 503
        emulator.rotate_risc_key()
        genuine = emulator.sign_set(emulator.build_set("verification", {"state": "y"}))
        async with aiohttp.ClientSession() as http, http.post(url + "/risc", data=genuine) as first:
            status, retry_after = first.status, first.headers.get("Retry-After")

        async def delivered_again() -> None:
            assert await emulator.post_set(url + "/risc", genuine) == 202

        await eventually(delivered_again, timeout=REFETCH + 10)
    assert status == 503 and retry_after is not None and 1 <= int(retry_after) <= REFETCH
