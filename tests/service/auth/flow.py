"""Drive auth's settings page and OAuth round trip over real HTTP, one redirect at a time, the way a
browser would (cookie jar, no automatic redirects), against the Google emulator."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp

from services.auth.app import create_app
from services.auth.config import AuthConfig
from shared.clock import Clock, SystemClock
from shared.config import CommonConfig, GoogleConfig
from tests.support.helpers import held_socket, port_of, serve

TEST_KEYS = (("k1", os.urandom(32)),)
LINK_SECRET = b"link-secret-for-tests-" + b"x" * 20
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def auth_config(common: CommonConfig, google: GoogleConfig, **changes: Any) -> AuthConfig:
    config = AuthConfig(common=common, google=google, token_keys=TEST_KEYS, link_secret=LINK_SECRET)
    return replace(config, **changes)


@dataclass
class Auth:
    """A running auth service and what tests need to talk to it."""

    url: str
    config: AuthConfig
    service_token: str

    @property
    def api_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.service_token}"}

    async def link(self, user_id: str, locale: str = "en", **extra: Any) -> str:
        async with (
            aiohttp.ClientSession(headers=self.api_headers) as http,
            http.post(f"{self.url}/api/v1/users/{user_id}/link", json={"locale": locale, **extra}) as r,
        ):
            assert r.status == 201, await r.text()
            url: str = (await r.json())["url"]
            return url

    async def status(self, user_id: str) -> dict[str, Any]:
        url = f"{self.url}/api/v1/users/{user_id}/connection"
        async with aiohttp.ClientSession(headers=self.api_headers) as http, http.get(url) as r:
            assert r.status == 200
            data: dict[str, Any] = await r.json()
            return data


@asynccontextmanager
async def running_auth(
    common: CommonConfig, google: GoogleConfig, *, clock: Clock | None = None, **changes: Any
) -> AsyncIterator[Auth]:
    sock = held_socket()
    base = f"http://127.0.0.1:{port_of(sock)}"
    config = auth_config(replace(common, public_base_url=base), google, **changes)
    app = create_app(config, overrides={"clock": clock or SystemClock()})
    async with serve(app, sock=sock) as url:
        yield Auth(url=url, config=config, service_token=common.service_token)


StartAuth = Callable[..., AbstractAsyncContextManager[Auth]]
"""The ``start_auth`` fixture: ``running_auth`` with the test's common and Google settings bound."""


def browser() -> aiohttp.ClientSession:
    """A fresh 'browser': its own cookie jar (IP hosts allowed), redirects followed by hand."""
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


@dataclass
class Page:
    status: int
    text: str
    location: str | None = None


async def get(http: aiohttp.ClientSession, url: str) -> Page:
    async with http.get(url, allow_redirects=False) as r:
        return Page(r.status, await r.text(), r.headers.get("Location"))


async def post(http: aiohttp.ClientSession, url: str, data: dict[str, str]) -> Page:
    async with http.post(url, data=data, allow_redirects=False) as r:
        return Page(r.status, await r.text(), r.headers.get("Location"))


def absolute(auth: Auth, location: str) -> str:
    return location if location.startswith("http") else auth.url + location


async def open_settings(auth: Auth, http: aiohttp.ClientSession, link: str) -> Page:
    """Open a link (sets the session) and follow to the settings page."""
    first = await get(http, link)
    assert first.status == 303, first.text
    assert first.location is not None
    page = await get(http, absolute(auth, first.location))
    assert page.status == 200, page.text
    return page


def csrf_of(page: Page) -> str:
    match = CSRF.search(page.text)
    assert match, "no form on the page"
    return match.group(1)


async def start_connect(auth: Auth, http: aiohttp.ClientSession, settings_page: Page) -> str:
    """Press Connect: returns Google's consent URL we were sent to."""
    started = await post(http, auth.url + "/oauth/start", {"csrf": csrf_of(settings_page)})
    assert started.status == 303, started.text
    assert started.location is not None
    return started.location


async def consent(http: aiohttp.ClientSession, consent_url: str) -> str:
    """Google's (emulated) consent screen answers at once: returns our callback URL with code and state."""
    google = await get(http, consent_url)
    assert google.status == 302, google.text
    assert google.location is not None
    return google.location


async def connect(auth: Auth, http: aiohttp.ClientSession, user_id: str, locale: str = "en") -> Page:
    """The whole round trip; returns the result page."""
    settings = await open_settings(auth, http, await auth.link(user_id, locale))
    callback = await consent(http, await start_connect(auth, http, settings))
    return await get(http, callback)


async def connect_new_user(auth: Auth, locale: str = "en") -> tuple[str, Page]:
    """A new user connects in a browser of their own; their id and the result page."""
    user_id = new_user_id()
    async with browser() as http:
        return user_id, await connect(auth, http, user_id, locale)


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def new_user_id() -> str:
    return "user-" + uuid.uuid4().hex[:10]
