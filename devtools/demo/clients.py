"""What the demo talks to over HTTP and AMQP, as a user, Google's account owner and the platform would:
auth's API and pages, sync's API, the emulator's admin API, the mail catcher's JSON view, and the bus
(publishing as the platform's broker user, watching sync's events through an admin-side queue)."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

import aio_pika
import aiohttp

from devtools.demo.timeline import DemoFailed, NotYet
from devtools.localrun import Ports
from shared import messages as m
from shared.amqp import Broker

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
TIMEOUT = aiohttp.ClientTimeout(total=10)


@dataclass(frozen=True)
class Targets:
    """Where a local run serves (``make run``'s ports) and how to log in to its API and broker."""

    auth: str
    sync: str
    google: str
    mail: str
    service_token: str
    platform_amqp_url: str  # the platform's broker user: publishes the platform's messages
    admin_amqp_url: str  # declares the demo's own queue on sync's events
    amqp_prefix: str = ""

    @classmethod
    def from_settings(cls, env: dict[str, str], ports: Ports | None = None) -> Targets:
        """From ``make run``'s settings (deploy/env.local with the environment on top)."""
        ports = ports or Ports()
        missing = [k for k in ("SERVICE_TOKEN", "AMQP_URL_PLATFORM", "AMQP_URL") if not env.get(k)]
        if missing:
            raise DemoFailed(f"missing settings {', '.join(missing)} (deploy/env.local sets them)")
        return cls(
            auth=ports.url("auth"),
            sync=ports.url("sync"),
            google=ports.url("google"),
            mail=ports.url("mail"),
            service_token=env["SERVICE_TOKEN"],
            platform_amqp_url=env["AMQP_URL_PLATFORM"],
            admin_amqp_url=env["AMQP_URL"],
            amqp_prefix=env.get("AMQP_PREFIX", ""),
        )

    def probes(self) -> dict[str, str]:
        """A URL per program that answers once it serves."""
        return {
            "auth": self.auth + "/",
            "sync": self.sync + "/",
            "the Google emulator": self.google + "/_emulator/users",
            "the mail catcher": self.mail + "/api/messages",
        }


async def check_reachable(http: aiohttp.ClientSession, targets: Targets) -> None:
    """Every program answers; otherwise say which one and to start ``make run``."""
    for name, url in targets.probes().items():
        try:
            async with http.get(url, timeout=aiohttp.ClientTimeout(total=5)) as resp:
                ok = resp.status == 200
        except (aiohttp.ClientError, TimeoutError):
            ok = False
        if not ok:
            raise DemoFailed(f"{name} is not reachable at {url}: start `make run` first")


async def get_json(http: aiohttp.ClientSession, url: str, **kwargs: Any) -> Any:
    async with http.get(url, timeout=TIMEOUT, **kwargs) as resp:
        if resp.status != 200:
            raise NotYet(f"GET {url.split('?')[0]} answered {resp.status}")
        return await resp.json()


class Api:
    """auth's and sync's APIs with the service token; the emulator's admin API; the mail catcher."""

    def __init__(self, http: aiohttp.ClientSession, targets: Targets) -> None:
        self.http, self.t = http, targets
        self._auth = {"Authorization": f"Bearer {targets.service_token}"}

    async def link(self, user_id: str) -> str:
        url = f"{self.t.auth}/api/v1/users/{user_id}/link"
        async with self.http.post(url, json={"locale": "en"}, headers=self._auth, timeout=TIMEOUT) as resp:
            if resp.status != 201:
                raise DemoFailed(f"auth's link API answered {resp.status} (is SERVICE_TOKEN auth's?)")
            return str((await resp.json())["url"])

    async def connection(self, user_id: str) -> dict[str, Any]:
        url = f"{self.t.auth}/api/v1/users/{user_id}/connection"
        data: dict[str, Any] = await get_json(self.http, url, headers=self._auth)
        return data

    async def health(self, user_id: str) -> dict[str, Any]:
        url = f"{self.t.sync}/api/v1/users/{user_id}/sync-health"
        data: dict[str, Any] = await get_json(self.http, url, headers=self._auth)
        return data

    async def appointment(self, appointment_id: str) -> dict[str, Any]:
        url = f"{self.t.sync}/api/v1/appointments/{appointment_id}/sync"
        data: dict[str, Any] = await get_json(self.http, url, headers=self._auth)
        return data

    async def google(self, operation: str, **arguments: Any) -> Any:
        url = f"{self.t.google}/_emulator/{operation}"
        async with self.http.post(url, json=arguments, timeout=TIMEOUT) as resp:
            body = await resp.json()
            if resp.status != 200:
                raise DemoFailed(f"the emulator's {operation} answered {resp.status}: {body.get('error')}")
            return body.get("result", body)

    async def google_view(self, view: str, **query: str) -> Any:
        return await get_json(self.http, f"{self.t.google}/_emulator/{view}", params=query)

    async def ours_in_google(self, calendar_id: str) -> dict[str, dict[str, Any]]:
        """Live events in the calendar that carry our private tag, by appointment id."""
        found = {}
        for event in await self.google_view("events", calendar_id=calendar_id):
            private = (event.get("extendedProperties") or {}).get("private") or {}
            if event.get("status") != "cancelled" and "calsyncAppointmentId" in private:
                found[private["calsyncAppointmentId"]] = event
        return found

    async def mail(self) -> list[dict[str, Any]]:
        data: list[dict[str, Any]] = await get_json(self.http, f"{self.t.mail}/api/messages")
        return data


class Browser:
    """A person's browser on auth's pages and Google's consent: its own cookies, redirects by hand."""

    def __init__(self, targets: Targets) -> None:
        self.t = targets
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True), timeout=TIMEOUT)

    async def close(self) -> None:
        await self.http.close()

    async def _go(self, method: str, url: str, expect: int, **kwargs: Any) -> tuple[str, str]:
        url = url if url.startswith("http") else self.t.auth + url
        async with self.http.request(method, url, allow_redirects=False, **kwargs) as resp:
            text = await resp.text()
            if resp.status != expect:
                raise DemoFailed(f"{method} {url.split('?')[0]} answered {resp.status}, not {expect}")
            return text, resp.headers.get("Location", "")

    async def round_trip(self, link: str) -> str:
        """Open a settings link, press Connect, consent at Google, land on the callback's page."""
        _, settings = await self._go("GET", link, 303)
        page, _ = await self._go("GET", settings, 200)
        csrf = CSRF.search(page)
        if csrf is None:
            raise DemoFailed("the settings page has no Connect form")
        _, consent = await self._go("POST", "/oauth/start", 303, data={"csrf": csrf.group(1)})
        if not consent.startswith(self.t.google):
            raise DemoFailed(f"/oauth/start sent the browser to {consent.split('?')[0]}, not Google")
        _, callback = await self._go("GET", consent, 302)
        if "/oauth/callback?" not in callback or "code=" not in callback:
            raise DemoFailed("Google's consent did not come back to /oauth/callback with a code")
        await self._go("GET", callback, 200)
        return "settings page → /oauth/start → Google consent → /oauth/callback (200)"


class Bus:
    """The platform's side of the bus, and a queue of the demo's own on sync's events."""

    def __init__(self, targets: Targets) -> None:
        self.t = targets
        self.platform = Broker(targets.platform_amqp_url, prefix=targets.amqp_prefix, name="calsync-demo")
        self.seen: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._connection: aio_pika.abc.AbstractConnection | None = None

    async def open(self) -> None:
        try:
            await self._open()
        except (aio_pika.exceptions.AMQPError, OSError, TimeoutError) as exc:
            raise DemoFailed(
                f"RabbitMQ refused the demo ({type(exc).__name__}): `make up` creates the broker users,"
                " AMQP_URL_PLATFORM and AMQP_URL in deploy/env.local name them"
            ) from None

    async def _open(self) -> None:
        await self.platform.connect()
        self._connection = await aio_pika.connect(self.t.admin_amqp_url)
        channel = await self._connection.channel()
        queue = await channel.declare_queue(
            f"{self.t.amqp_prefix}demo.{uuid.uuid4().hex[:8]}", exclusive=True, auto_delete=True
        )
        await queue.bind(self.t.amqp_prefix + m.SYNC_EVENTS, "sync.#")
        await queue.consume(self._seen, no_ack=True)

    async def _seen(self, message: aio_pika.abc.AbstractIncomingMessage) -> None:
        await self.seen.put({"routing_key": message.routing_key, **_json(message.body)})

    async def close(self) -> None:
        await self.platform.close()
        if self._connection is not None:
            await self._connection.close()


def _json(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
