"""The RISC management API of the emulator (docs/google.md §11): only a well-formed service-account
JWT is let in, a receiver must be HTTPS (loopback excepted), and `stream:verify` pushes a signed
verification event carrying the asked `state` while the stream is enabled, none while disabled."""

from __future__ import annotations

import time
from typing import Any

import aiohttp
import jwt
import pytest

from devtools.google_emulator import GoogleEmulator
from devtools.google_emulator.risc_management import AUDIENCE, PUSH_DELIVERY

from .conftest import Receiver

VERIFICATION = "https://schemas.openid.net/secevent/risc/event-type/verification"


def _bearer(key: dict[str, str], **changes: Any) -> dict[str, str]:
    now = int(time.time())
    claims = {
        "iss": key["client_email"],
        "sub": key["client_email"],
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 3600,
    }
    claims.update(changes)
    token = jwt.encode(claims, key["private_key"], algorithm="RS256", headers={"kid": key["private_key_id"]})
    return {"Authorization": f"Bearer {token}"}


async def _call(
    http: aiohttp.ClientSession,
    emu: GoogleEmulator,
    method: str,
    path: str,
    headers: dict[str, str],
    body: Any = None,
) -> tuple[int, Any]:
    async with http.request(method, emu.base_url + "/v1beta/" + path, json=body, headers=headers) as resp:
        return resp.status, await resp.json()


@pytest.mark.parametrize(
    "changes",
    [
        {"aud": "https://risc.googleapis.com/"},
        {"sub": "someone@else.example"},
        {"exp": int(time.time()) - 10},
        {"exp": int(time.time()) + 7200},
    ],
    ids=["wrong-aud", "sub-not-iss", "expired", "longer-than-an-hour"],
)
async def test_a_malformed_service_account_jwt_is_refused(
    http: aiohttp.ClientSession, emu: GoogleEmulator, changes: dict[str, Any]
) -> None:
    key = emu.add_service_account()
    status, body = await _call(http, emu, "GET", "stream", _bearer(key, **changes))
    assert (status, body["error"]["status"]) == (401, "UNAUTHENTICATED")


async def test_stream_lifecycle_and_verification(
    http: aiohttp.ClientSession, emu: GoogleEmulator, receiver: Receiver
) -> None:
    auth = _bearer(emu.add_service_account())
    status, body = await _call(http, emu, "GET", "stream", auth)
    assert (status, body["error"]["message"]) == (404, "Project has no RISC configuration.")
    plain = {"delivery": {"delivery_method": PUSH_DELIVERY, "url": "http://calsync.example.com/risc"}}
    assert (await _call(http, emu, "POST", "stream:update", auth, plain))[0] == 403
    config = {
        "delivery": {"delivery_method": PUSH_DELIVERY, "url": receiver.url},
        "events_requested": [VERIFICATION],
    }
    assert (await _call(http, emu, "POST", "stream:update", auth, config))[0] == 200
    assert (await _call(http, emu, "GET", "stream", auth))[1]["delivery"]["url"] == receiver.url

    assert (await _call(http, emu, "POST", "stream/status:update", auth, {"status": "disabled"}))[0] == 200
    assert (await _call(http, emu, "POST", "stream:verify", auth, {"state": "while-disabled"}))[0] == 200
    assert (await _call(http, emu, "POST", "stream/status:update", auth, {"status": "enabled"}))[0] == 200
    assert (await _call(http, emu, "POST", "stream:verify", auth, {"state": "abc"}))[0] == 200
    await emu.flush_pushes()
    delivery = await receiver.next()  # the first one: nothing was sent while disabled
    claims = jwt.decode(delivery.body, options={"verify_signature": False})
    assert claims["events"] == {VERIFICATION: {"state": "abc"}} and claims["aud"] == emu.client_id
    assert receiver.received.empty()
