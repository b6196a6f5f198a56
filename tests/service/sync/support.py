"""Running sync in-process for tests, with a stand-in for auth's token answers.

``TokenStandIn`` replaces the auth service on the real bus (exactly ``token.requested`` on
``auth.token_requests`` → ``token.reply``): it hands out real emulator access tokens for the Google
accounts it was told about, or answers ``disconnected`` for a user marked so.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import asyncpg
from aiohttp import web

from services.sync.adapters import calendar_syncs
from services.sync.app import create_app
from services.sync.config import ChannelConfig, InboundConfig, SyncConfig, WriterConfig
from services.sync.domain.failures import Backoff
from shared import messages as m
from shared.amqp import Broker
from shared.clock import Clock
from shared.config import CommonConfig, GoogleConfig
from shared.rpc import serve as serve_rpc
from tests.support.bus import PublishingBroker
from tests.support.helpers import eventually, held_socket, port_of, serve

SCOPES = [
    "https://www.googleapis.com/auth/calendar.events",
    "https://www.googleapis.com/auth/calendar.calendarlist.readonly",
]
FAST = WriterConfig(
    workers=4,
    per_user_in_flight=2,
    poll_interval=0.05,
    lease=timedelta(seconds=30),
    token_timeout=5.0,
    backoff=Backoff(base=0.05, cap=0.4),
)
FAST_INBOUND = InboundConfig(
    poll_interval=0.05,
    lease=timedelta(seconds=30),
    retry_in=timedelta(seconds=1),
    follow_up_after=timedelta(0),
)
START = datetime(2030, 3, 4, 9, 0, tzinfo=UTC)  # appointments are upcoming for every test clock


@dataclass
class TokenStandIn:
    """auth's token answers: ``accounts[user_id]`` is the Google email; ``disconnected`` users get
    ``disconnected``; ``requests`` lists ``(user_id, force_refresh)``, ``deleted_grant_requests``
    ``(user_id, grant_id)`` of requests ``for_deleted_grant`` (answered like any other)."""

    emulator: Any
    accounts: dict[str, str] = field(default_factory=dict)
    disconnected: set[str] = field(default_factory=set)
    requests: list[tuple[str, bool]] = field(default_factory=list)
    deleted_grant_requests: list[tuple[str, str]] = field(default_factory=list)

    async def answer(self, message: m.Message) -> m.Message:
        assert isinstance(message, m.TokenRequested)
        user_id = message.user_id
        self.requests.append((user_id, message.force_refresh))
        if message.for_deleted_grant is not None:
            self.deleted_grant_requests.append((user_id, message.for_deleted_grant))
        if user_id in self.disconnected:
            return m.TokenReply(user_id=user_id, status="disconnected", reason="revoked")
        email = self.accounts.get(user_id)
        if email is None:
            return m.TokenReply(user_id=user_id, status="no_grant")
        token = self.emulator.grant_token(email, SCOPES)
        expires = datetime.now(UTC) + timedelta(hours=1)
        return m.TokenReply(user_id=user_id, status="token", access_token=token, expires_at=expires)


@asynccontextmanager
async def token_stand_in(broker: PublishingBroker, emulator: Any) -> AsyncIterator[TokenStandIn]:
    stand_in = TokenStandIn(emulator)
    await broker.declare(["auth.token_requests"])
    as_auth = await broker.as_publisher("auth")  # sync trusts token replies from auth's broker user only
    await serve_rpc(as_auth, "auth.token_requests", m.TokenRequested, stand_in.answer)
    yield stand_in


@dataclass
class Sync:
    app: web.Application
    url: str


@asynccontextmanager
async def running_sync(
    common: CommonConfig,
    google: GoogleConfig,
    *,
    clock: Clock | None = None,
    inbound: InboundConfig = FAST_INBOUND,
    channels: ChannelConfig | None = None,
    **writer: Any,
) -> AsyncIterator[Sync]:
    """sync on a held free port; with ``channels``, its webhook address is that port's (plain http on
    loopback, which the emulator accepts)."""
    sock = held_socket()
    if channels is not None:
        channels = replace(channels, webhook_url=f"http://127.0.0.1:{port_of(sock)}/webhooks/google/calendar")
    config = SyncConfig(
        common=common,
        google=google,
        writer=replace(FAST, **writer),
        inbound=inbound,
        channels=channels or ChannelConfig(),
    )
    app = create_app(config, overrides={"clock": clock} if clock else None)
    async with serve(app, sock=sock) as url:
        yield Sync(app, url)


def connected(user_id: str, email: str, *, cause: str = "connected", **changes: Any) -> m.GrantConnected:
    """auth's grant.connected for ``email`` (``cause``: connected, reconnected, ...)."""
    fields = {"user_id": user_id, "grant_id": f"g-{user_id}", "cause": cause, "google_sub": f"sub-{email}"}
    return m.GrantConnected.model_validate({**fields, "google_email": email, **changes})


def booked(
    appointment_id: str,
    user_id: str,
    version: int = 1,
    *,
    title: str | None = None,
    day: int = 0,
    **changes: Any,
) -> m.AppointmentCreated | m.AppointmentUpdated:
    start = START + timedelta(days=day)
    kind = m.AppointmentCreated if version == 1 else m.AppointmentUpdated
    return kind(
        appointment_id=appointment_id,
        version=version,
        owner_user_id=user_id,
        account_id="acc-1",
        title=title or f"{appointment_id} v{version}",
        start=m.EventTime(date_time=start, time_zone="Europe/Berlin"),
        end=m.EventTime(date_time=start + timedelta(hours=1), time_zone="Europe/Berlin"),
        **changes,
    )


def ours(emulator: Any, calendar_id: str) -> dict[str, list[dict[str, Any]]]:
    """Live (not cancelled) events in the calendar, by the appointment id of our private tag."""
    found: dict[str, list[dict[str, Any]]] = {}
    for event in emulator.events(calendar_id):
        private = (event.get("extendedProperties") or {}).get("private") or {}
        if event.get("status") != "cancelled" and "calsyncAppointmentId" in private:
            found.setdefault(private["calsyncAppointmentId"], []).append(event)
    return found


async def calendar_of(db: asyncpg.Pool, user_id: str) -> str:
    async def check() -> str:
        calendar_id = await db.fetchval(
            "SELECT calendar_id FROM sync.grant_states WHERE user_id = $1", user_id
        )
        assert calendar_id is not None
        return str(calendar_id)

    return await eventually(check)


async def first_sync_done(db: asyncpg.Pool, user_id: str) -> None:
    """The calendar's initial full sync (requested once sync resolved it) has ended."""

    async def check() -> None:
        query = "SELECT sync_token FROM sync.calendar_syncs WHERE user_id = $1 AND state = 'idle'"
        assert await db.fetchval(query, user_id) is not None

    await eventually(check)


async def all_synced(db: asyncpg.Pool, count: int) -> None:
    rows = await db.fetch("SELECT state, version, synced_version FROM sync.appointments")
    assert len(rows) == count and all(r["state"] == "synced" for r in rows), [dict(r) for r in rows]


@dataclass(frozen=True)
class SyncWorld:
    """What a sync service test drives: ``async with world.start(clock=..., inbound=..., **writer_changes)`` runs
    sync; around it auth's token answers, Google (the emulator), the bus and the database."""

    start: Callable[..., Any]
    tokens: TokenStandIn
    emulator: Any
    broker: Broker
    db: asyncpg.Pool

    def add_account(self, user_id: str, email: str) -> None:
        """``email`` is a Google account, and auth hands out its tokens for ``user_id``."""
        self.emulator.add_user(email)
        self.tokens.accounts[user_id] = email

    async def connect(self, user_id: str, email: str) -> str:
        """auth announces the grant; the destination calendar, once sync has resolved it."""
        await self.broker.publish(connected(user_id, email))
        return await calendar_of(self.db, user_id)

    async def book(self, user_id: str, count: int, *, prefix: str = "a") -> None:
        """``count`` appointments ``<prefix>0``, ``<prefix>1``, ... one a day from START."""
        for number in range(count):
            await self.broker.publish(booked(f"{prefix}{number}", user_id, day=number))


async def pending_count(db: asyncpg.Pool, count: int) -> None:
    assert await db.fetchval("SELECT count(*) FROM sync.appointments WHERE state = 'pending'") == count


async def _synced_count(db: asyncpg.Pool, column: Literal["owner_user_id", "calendar_id"], value: str) -> int:
    query = f"SELECT count(*) FROM sync.appointments WHERE {column} = $1 AND state = 'synced'"
    count: int = await db.fetchval(query, value)
    return count


async def synced_of(db: asyncpg.Pool, user_id: str, count: int) -> None:
    assert await _synced_count(db, "owner_user_id", user_id) == count


async def synced_in(db: asyncpg.Pool, calendar_id: str, count: int) -> None:
    assert await _synced_count(db, "calendar_id", calendar_id) == count


async def push_arrived(db: asyncpg.Pool, user_id: str, calendar_id: str, now: datetime) -> None:
    """What the webhook does for a push notification: ask for an inbound sync of the calendar."""
    async with db.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL search_path TO sync")
        await calendar_syncs.request(conn, user_id, calendar_id, now, "push")
