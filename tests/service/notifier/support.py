"""Running the notifier in-process for tests, with a stand-in for auth's link endpoint.

``AuthLinksStandIn`` replaces the auth service over HTTP (exactly ``POST /api/v1/users/{id}/link``
with the service token, 201 ``{"url", "expires_at"}``); it can be told to fail, like an auth outage.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import asyncpg
from aiohttp import web

from devtools.mailcatcher import MailCatcher
from services.notifier.app import create_app
from services.notifier.config import NotifierConfig, SmtpConfig
from services.notifier.entrypoints.jobs import DeliveryWorker
from services.notifier.keys import WORKER
from shared import messages as m
from shared.amqp import Broker
from shared.clock import Clock, ManualClock
from shared.config import CommonConfig
from shared.web import REGISTRY
from tests.support.helpers import Probe, eventually, held_socket, port_of, serve

LINK_SECRET = "notifier-link-secret-for-tests-0123456789"
MAIL_FROM = "Pilotly <noreply@pilotly.example>"


@dataclass
class AuthLinksStandIn:
    """Answers link requests like auth does; ``fail_next(n)`` answers 503 n times; while ``gate`` is
    set to an unset event, requests wait for it (``waiting`` counts them), like a hung auth."""

    service_token: str
    url: str = ""
    requests: list[tuple[str, str]] = field(default_factory=list)
    failures: int = 0
    gate: asyncio.Event | None = None
    waiting: int = 0

    def fail_next(self, count: int) -> None:
        self.failures += count

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/api/v1/users/{user_id}/link", self._mint)
        return app

    async def _mint(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {self.service_token}":
            return web.json_response({"error": "service token required"}, status=401)
        if self.gate is not None:
            self.waiting += 1
            await self.gate.wait()
        if self.failures:
            self.failures -= 1
            return web.json_response({"error": "unavailable"}, status=503)
        user_id = request.match_info["user_id"]
        locale = (await request.json())["locale"]
        self.requests.append((user_id, locale))
        expires = datetime.now(UTC) + timedelta(days=7)
        url = f"{self.url}/settings?user={user_id}&locale={locale}&n={len(self.requests)}"
        return web.json_response({"url": url, "expires_at": expires.isoformat()}, status=201)


@asynccontextmanager
async def auth_links_stand_in(service_token: str) -> AsyncIterator[AuthLinksStandIn]:
    stand_in = AuthLinksStandIn(service_token)
    async with serve(stand_in.app()) as url:
        stand_in.url = url
        yield stand_in


def notifier_config(common: CommonConfig, *, smtp_port: int, auth_url: str, **changes: Any) -> NotifierConfig:
    config = NotifierConfig(
        common=common,
        link_secret=LINK_SECRET,
        auth_api_url=auth_url,
        smtp=SmtpConfig(port=smtp_port, timeout=5),
        mail_from=MAIL_FROM,
        product_name="Pilotly",
        operator_email="ops@pilotly.example",
        delivery_poll_interval=0.05,
        delivery_retry_delays=(60, 300),
        delivery_max_attempts=5,
        delivery_concurrency=2,
    )
    return replace(config, **changes)


@dataclass
class Notifier:
    url: str
    app: web.Application
    config: NotifierConfig

    @property
    def worker(self) -> DeliveryWorker:
        return self.app[WORKER]


@dataclass(frozen=True)
class NotifierWorld:
    """What a test of the running notifier drives and watches: the bus it consumes, its database,
    the mail catcher it sends to and the clock it reads."""

    notifier: Notifier
    broker: Broker
    db: asyncpg.Pool
    mail: MailCatcher
    clock: ManualClock


@asynccontextmanager
async def running_notifier(
    common: CommonConfig, *, smtp_port: int, auth_url: str, clock: Clock, **changes: Any
) -> AsyncIterator[Notifier]:
    """The notifier on a real port whose PUBLIC_BASE_URL is that port (stop links work)."""
    sock = held_socket()
    common = replace(common, public_base_url=f"http://127.0.0.1:{port_of(sock)}")
    config = notifier_config(common, smtp_port=smtp_port, auth_url=auth_url, **changes)
    app = create_app(config, overrides={"clock": clock})
    async with serve(app, sock=sock) as url:
        yield Notifier(url, app, config)


async def jobs(db: asyncpg.Pool) -> list[dict[str, Any]]:
    rows = await db.fetch(
        "SELECT kind, reason, state, sequence, attempts, due_at, user_id FROM notifier.jobs ORDER BY created_at, sequence, kind"
    )
    return [dict(r) for r in rows]


async def attempts(db: asyncpg.Pool) -> list[tuple[str, str, Any]]:
    """The delivery log as (outcome, stage, SMTP code), oldest first."""
    rows = await db.fetch("SELECT outcome, stage, smtp_code FROM notifier.delivery_log ORDER BY id")
    return [(r["outcome"], r["stage"], r["smtp_code"]) for r in rows]


async def processed(db: asyncpg.Pool, queue: str) -> int:
    return int(
        await db.fetchval("SELECT count(*) FROM notifier.processed_messages WHERE consumer = $1", queue)
    )


def contact(
    user_id: str, *, locale: str = "en", email: str | None = None, name: str | None = "Anna"
) -> m.UserContactChanged:
    return m.UserContactChanged(
        user_id=user_id, email=email or f"{user_id}@platform.example", name=name, locale=locale
    )


def disconnected(user_id: str, reason: str = "revoked", **changes: Any) -> m.GrantDisconnected:
    fields: dict[str, Any] = {
        "user_id": user_id,
        "grant_id": f"g-{user_id}",
        "reason": reason,
        "since": datetime.now(UTC),
        "google_email": f"{user_id}@gmail.example",
    }
    fields.update(changes)
    return m.GrantDisconnected(**fields)


async def given_contacts(broker: Any, db: asyncpg.Pool, *events: m.UserContactChanged) -> None:
    """Publish contact events and wait until the notifier has stored them."""
    for event in events:
        await broker.publish(event)

    async def stored() -> None:
        count = await db.fetchval(
            "SELECT count(*) FROM notifier.contacts WHERE user_id = ANY($1::text[])",
            [e.user_id for e in events],
        )
        assert count == len(events)

    await eventually(stored)


async def disconnect_known_user(broker: Any, db: asyncpg.Pool, *, locale: str = "en") -> None:
    """User u1, a known contact (stored before this returns), loses the grant."""
    await given_contacts(broker, db, contact("u1", locale=locale))
    await broker.publish(disconnected("u1"))


async def alerted(broker: Any, db: asyncpg.Pool, mail: MailCatcher, *, locale: str = "en") -> EmailMessage:
    """User u1, a known contact, loses the grant; returns the alert once it has reached their address
    and its outcome is saved (so what the test does next cannot overtake the recording)."""
    await disconnect_known_user(broker, db, locale=locale)
    alert = await mail.wait_for(lambda msg: msg["To"].addresses[0].addr_spec == "u1@platform.example")
    await alert_recorded(db)
    return alert


# A delivery is finished once its outcome is saved and it is acked: handled, a duplicate, dead-lettered.
FINISHED_OUTCOMES = ("ok", "duplicate", "dead")


def finished(*instances: Notifier, queue: str | None = None) -> int:
    """Deliveries the instances have finished with (acked after commit), on ``queue`` or on any queue."""
    total = 0.0
    for instance in instances:
        for family in instance.app[REGISTRY].collect():
            for sample in family.samples:
                labels = sample.labels
                if (
                    sample.name == "calsync_messages_consumed_total"
                    and labels.get("outcome") in FINISHED_OUTCOMES
                    and queue in (None, labels.get("queue"))
                ):
                    total += sample.value
    return int(total)


async def all_consumed(*instances: Notifier, count: int, queue: str | None = None) -> None:
    """Wait until the instances together have finished exactly ``count`` deliveries (every one published)."""

    async def check() -> None:
        assert finished(*instances, queue=queue) == count

    await eventually(check, timeout=20)


async def alert_recorded(db: asyncpg.Pool) -> None:
    """Wait until the alert's outcome is saved (its reminder, if any, is scheduled in the same step)."""

    async def check() -> None:
        states = await db.fetch("SELECT state FROM notifier.jobs WHERE kind = 'alert'")
        assert [r["state"] for r in states] == ["sent"]

    await eventually(check)


PermanentFailure = Callable[[], Awaitable[dict[str, Any]]]
"""The ``permanent_failure`` fixture: ``failed_for_good`` with the test's events, database and clock bound."""


async def failed_for_good(events: Probe, db: asyncpg.Pool, clock: ManualClock) -> dict[str, Any]:
    """The ``notification.failed`` event, once it is announced as permanent and a month later nothing
    is due or in flight (the email is never tried again)."""
    failed = await events.next_of_type("notification.failed")
    assert failed["permanent"] is True
    clock.advance(timedelta(days=30))
    await nothing_due(db, clock)
    return failed


async def nothing_due(db: asyncpg.Pool, clock: Clock) -> None:
    """Wait until no email is due or in flight (a claimed job is ``sending`` until its outcome is saved)."""

    async def check() -> None:
        due = await db.fetchval(
            "SELECT count(*) FROM notifier.jobs"
            " WHERE (state = 'pending' AND due_at <= $1) OR state = 'sending'",
            clock.now(),
        )
        assert due == 0

    await eventually(check)
