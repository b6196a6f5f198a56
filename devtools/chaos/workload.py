"""What flows through the stack during a chaos run: users with a Google account (emulator) and a
platform contact, connected through auth's real OAuth round trip, and a seeded stream of appointment
events (created, updated, cancelled) published by the platform at a steady rate. ``Ledger`` keeps
each appointment's latest version, which the end-state checks compare with Google."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

from devtools.bench._procs import EmulatorAdmin
from shared import messages as m
from shared.amqp import Broker
from tests.service.auth.flow import Auth, absolute, browser, consent, get, open_settings, start_connect

ZONE = "Europe/Berlin"


@dataclass(frozen=True)
class User:
    user_id: str
    google_email: str
    contact: str  # where the notifier writes to


@dataclass
class Latest:
    """The newest published state of one appointment."""

    owner: User
    version: int
    title: str
    cancelled: bool = False


@dataclass
class Ledger:
    appointments: dict[str, Latest] = field(default_factory=dict)
    published: int = 0
    publish_retries: int = 0


def make_users(count: int) -> list[User]:
    return [
        User(f"user-{i:04d}", f"chaos{i}@example.com", f"owner{i}@platform.example") for i in range(count)
    ]


async def surely(publish: Callable[[], Awaitable[None]], ledger: Ledger | None = None) -> None:
    """Publish until the broker confirms: a node may be down, and the same message (same
    message_id, which consumers dedupe) is sent again; gives up after five minutes."""
    deadline = time.monotonic() + 300
    retried = False
    while True:
        try:
            await publish()
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            if ledger is not None and not retried:
                ledger.publish_retries += 1  # messages that needed more than one attempt
            retried = True
            await asyncio.sleep(0.5)  # the broker is failing over; try the same message again


async def publish_surely(broker: Broker, message: m.Message, ledger: Ledger | None = None) -> None:
    await surely(lambda: broker.publish(message), ledger)


async def seed_users(emu: EmulatorAdmin, platform: Broker, users: list[User]) -> None:
    for user in users:
        await emu.call("add_user", email=user.google_email)
        await publish_surely(platform, m.UserContactChanged(user_id=user.user_id, email=user.contact))


class Connector:
    """The user's side of the OAuth round trip; one at a time, since the emulator's consent screen
    signs in whoever ``set_consent`` names."""

    def __init__(self, emu: EmulatorAdmin, auth_url: str, service_token: str) -> None:
        self.emu = emu
        self.auth = Auth(url=auth_url, config=None, service_token=service_token)  # type: ignore[arg-type]
        self._lock = asyncio.Lock()

    async def connect(self, user: User, link: str | None = None) -> None:
        """Open ``link`` (or a fresh one from auth's link API), press Connect, consent, come back;
        tried again while auth is down or restarting."""
        deadline = time.monotonic() + 180
        while True:
            try:
                async with self._lock:
                    await self._round_trip(user, link)
                return
            except (AssertionError, aiohttp.ClientError, OSError):
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(1)  # auth is restarting; the user tries again a moment later

    async def _round_trip(self, user: User, link: str | None) -> None:
        await self.emu.call("set_consent", email=user.google_email)
        async with browser() as http:
            settings = await open_settings(self.auth, http, link or await self.auth.link(user.user_id))
            callback = await consent(http, await start_connect(self.auth, http, settings))
            result = await get(http, absolute(self.auth, callback))
            assert result.status == 200, result.status


@dataclass
class Stream:
    """The seeded sequence of appointment events: about 60 % creations, 32 % updates, 8 %
    cancellations, spread round-robin over the users."""

    users: list[User]
    draw: random.Random
    ledger: Ledger
    start: datetime = field(
        default_factory=lambda: datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    )
    _made: int = 0

    def next(self) -> m.Message:
        live = [key for key, latest in self.ledger.appointments.items() if not latest.cancelled]
        roll = self.draw.random()
        if live and roll < 0.08:
            key = self.draw.choice(live[-200:])
            latest = self.ledger.appointments[key]
            latest.version, latest.cancelled = latest.version + 1, True
            return m.AppointmentCancelled(appointment_id=key, version=latest.version,
                                          owner_user_id=latest.owner.user_id, account_id="acc-chaos")  # fmt: skip
        if live and roll < 0.40:
            key = self.draw.choice(live[-200:])
            latest = self.ledger.appointments[key]
            latest.version += 1
            latest.title = f"{key} v{latest.version}"
            return self._body(m.AppointmentUpdated, key, latest)
        key = f"appt-{self._made:06d}"
        owner = self.users[self._made % len(self.users)]
        self._made += 1
        latest = Latest(owner, 1, f"{key} v1")
        self.ledger.appointments[key] = latest
        return self._body(m.AppointmentCreated, key, latest)

    def _body(
        self, kind: type[m.AppointmentCreated] | type[m.AppointmentUpdated], key: str, latest: Latest
    ) -> Any:
        begins = self.start + timedelta(minutes=15 * int(key.rpartition("-")[2]) + 5 * latest.version)
        return kind(
            appointment_id=key, version=latest.version, owner_user_id=latest.owner.user_id,
            account_id="acc-chaos", title=latest.title, location="Room 4",
            start=m.EventTime(date_time=begins, time_zone=ZONE),
            end=m.EventTime(date_time=begins + timedelta(minutes=30), time_zone=ZONE),
        )  # fmt: skip


async def run_stream(
    stream: Stream, platform: Broker, events: int, rate: float, on_progress: Callable[[int], Awaitable[None]]
) -> None:
    """Publish ``events`` messages at ``rate`` per second (up to 16 awaiting their confirm at once);
    ``on_progress(n)`` after every hundredth."""
    in_flight = asyncio.Semaphore(16)
    began = time.perf_counter()
    tasks: set[asyncio.Task[None]] = set()

    async def one(message: m.Message) -> None:
        try:
            await publish_surely(platform, message, stream.ledger)
            stream.ledger.published += 1
        finally:
            in_flight.release()

    for n in range(events):
        wait = began + n / rate - time.perf_counter()
        if wait > 0:
            await asyncio.sleep(wait)  # pacing the platform's publishing rate
        await in_flight.acquire()
        task = asyncio.create_task(one(stream.next()))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        if n % 100 == 99:
            await on_progress(n + 1)
    if tasks:
        await asyncio.gather(*tasks)
