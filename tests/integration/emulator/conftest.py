"""Fixtures for the emulator's own tests: an HTTP session, bearer headers and a Calendar API call,
a consent round trip, and a local push/SET receiver that records what Google would deliver."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web

from devtools.google_emulator import GoogleEmulator
from tests.support.helpers import serve

REDIRECT_URI = "http://127.0.0.1:8081/oauth/callback"
EVENTS = "https://www.googleapis.com/auth/calendar.events"
CALENDARLIST = "https://www.googleapis.com/auth/calendar.calendarlist.readonly"
ALL_SCOPES = ["openid", "email", EVENTS, CALENDARLIST]


@pytest_asyncio.fixture
async def emu() -> AsyncIterator[GoogleEmulator]:
    """A started emulator with alice@example.com."""
    emulator = GoogleEmulator()
    emulator.add_user("alice@example.com", name="Alice")
    await emulator.start()
    yield emulator
    await emulator.stop()


@pytest_asyncio.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def bearer(
    emu: GoogleEmulator, email: str = "alice@example.com", scopes: tuple[str, ...] = (EVENTS, CALENDARLIST)
) -> dict[str, str]:
    """The Authorization header of a fresh access token for ``email`` with ``scopes``."""
    return {"Authorization": "Bearer " + emu.grant_token(email, list(scopes))}


@pytest.fixture
def headers(emu: GoogleEmulator) -> dict[str, str]:
    """Alice's Authorization header, for calendar events and the calendar list."""
    return bearer(emu)


async def call(
    http: aiohttp.ClientSession, method: str, url: str, headers: dict[str, str], **kw: Any
) -> tuple[int, Any]:
    """One Calendar API request: the status and the JSON answer (None on 204)."""
    async with http.request(method, url, headers=headers, **kw) as resp:
        return resp.status, (await resp.json() if resp.status != 204 else None)


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


async def authorize(
    http: aiohttp.ClientSession, emu: GoogleEmulator, *, scopes: list[str] | None = None, **extra: str
) -> dict[str, str]:
    """Run the consent redirect; returns the callback's query (code, state or error)."""
    params = {
        "client_id": emu.client_id,
        "redirect_uri": REDIRECT_URI,
        "response_type": "code",
        "scope": " ".join(scopes or ALL_SCOPES),
        "access_type": "offline",
        "prompt": "consent",
        "state": "s-" + secrets.token_urlsafe(8),
        **extra,
    }
    async with http.get(emu.auth_url, params=params, allow_redirects=False) as resp:
        assert resp.status == 302, await resp.text()
        location = resp.headers["Location"]
    assert location.startswith(REDIRECT_URI + "?")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


async def token_post(http: aiohttp.ClientSession, emu: GoogleEmulator, **form: str) -> tuple[int, Any]:
    data = {"client_id": emu.client_id, "client_secret": emu.client_secret, **form}
    async with http.post(emu.token_url, data=data) as resp:
        return resp.status, await resp.json()


async def exchange(
    http: aiohttp.ClientSession,
    emu: GoogleEmulator,
    code: str,
    *,
    verifier: str | None = None,
    redirect_uri: str = REDIRECT_URI,
) -> tuple[int, Any]:
    """Exchange an authorization code at /token (with the PKCE verifier when given)."""
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    if verifier is not None:
        form["code_verifier"] = verifier
    return await token_post(http, emu, **form)


async def refresh(http: aiohttp.ClientSession, emu: GoogleEmulator, refresh_token: str) -> tuple[int, Any]:
    """Use a refresh token at /token."""
    return await token_post(http, emu, grant_type="refresh_token", refresh_token=refresh_token)


Connect = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture
def connect(http: aiohttp.ClientSession, emu: GoogleEmulator) -> Connect:
    """Consent with PKCE and exchange the code: the token response."""

    async def run(scopes: list[str] | None = None, **extra: str) -> dict[str, Any]:
        verifier, challenge = pkce_pair()
        callback = await authorize(
            http, emu, scopes=scopes, code_challenge=challenge, code_challenge_method="S256", **extra
        )
        status, body = await exchange(http, emu, callback["code"], verifier=verifier)
        assert status == 200, body
        return dict(body)

    return run


@dataclass
class Grant:
    """Alice's token response after consent, and what refreshing it answers."""

    tokens: dict[str, Any]
    http: aiohttp.ClientSession
    emu: GoogleEmulator

    async def refresh(self) -> tuple[int, Any]:
        """Use this grant's refresh token at /token."""
        return await refresh(self.http, self.emu, self.tokens["refresh_token"])


@pytest_asyncio.fixture
async def grant(connect: Connect, http: aiohttp.ClientSession, emu: GoogleEmulator) -> Grant:
    """Alice, connected once (consent with PKCE, code exchanged)."""
    return Grant(await connect(), http, emu)


@dataclass
class Delivery:
    """One request a receiver got."""

    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A local HTTP endpoint standing in for our push/RISC receivers."""

    url: str
    received: asyncio.Queue[Delivery] = field(default_factory=asyncio.Queue)
    statuses: list[int] = field(default_factory=list)  # next statuses to answer, then 204

    async def next(self, timeout: float = 5.0) -> Delivery:
        return await asyncio.wait_for(self.received.get(), timeout)


@pytest_asyncio.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """Records every POST to /hook and answers with queued statuses (default 204)."""
    box: list[Receiver] = []

    async def hook(request: web.Request) -> web.Response:
        rec = box[0]
        await rec.received.put(Delivery(dict(request.headers), await request.read()))
        return web.Response(status=rec.statuses.pop(0) if rec.statuses else 204)

    app = web.Application()
    app.router.add_post("/hook", hook)
    async with serve(app) as base:
        box.append(Receiver(base + "/hook"))
        yield box[0]
