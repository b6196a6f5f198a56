"""Inbound messages for sync, as routing tables: appointment changes, auth's grant events and user
deletion. Each handler runs in the consumer's transaction (``processed_messages`` makes it
idempotent); a message type without a route is dead-lettered."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg

from services.sync.usecases import appointments, grants, users
from shared import messages as m
from shared.clock import Clock
from shared.consumer import Delivery, Reject

Handler = Callable[[Any, asyncpg.Connection, Delivery], Awaitable[None]]
Routes = Mapping[type[m.Message], Handler]


@dataclass(frozen=True)
class ConsumerDeps:
    clock: Clock
    wake_writer: Callable[[], None]
    forget_token: Callable[[str], None]  # a grant event may mean another account or a dead token


def routes(deps: ConsumerDeps) -> dict[str, Routes]:
    """The routing table of each queue sync consumes."""
    grant_deps = grants.GrantDeps(deps.clock)

    async def on_appointment(
        message: appointments.AppointmentChange, conn: asyncpg.Connection, _: Delivery
    ) -> None:
        if await appointments.record(conn, message, deps.clock):
            deps.wake_writer()

    async def on_connected(message: m.GrantConnected, conn: asyncpg.Connection, _: Delivery) -> None:
        await grants.connected(conn, message, grant_deps)
        deps.forget_token(message.user_id)
        deps.wake_writer()

    async def on_paused(
        message: m.GrantDisconnected | m.GrantSuspended, conn: asyncpg.Connection, _: Delivery
    ) -> None:
        await grants.paused(conn, message)
        deps.forget_token(message.user_id)

    async def on_deleted(message: m.GrantDeleted, conn: asyncpg.Connection, _: Delivery) -> None:
        await grants.deleted(conn, message, grant_deps)
        deps.forget_token(message.user_id)

    async def ignore(_message: m.Message, _conn: asyncpg.Connection, _delivery: Delivery) -> None:
        """Known, and nothing for sync to do."""

    async def on_user_deleted(message: m.UserDeleted, conn: asyncpg.Connection, _: Delivery) -> None:
        await users.user_deleted(conn, message)

    return {
        "sync.appointments": {
            m.AppointmentCreated: on_appointment,
            m.AppointmentUpdated: on_appointment,
            m.AppointmentCancelled: on_appointment,
        },
        "sync.grant_events": {
            m.GrantConnected: on_connected,
            m.GrantDisconnected: on_paused,
            m.GrantSuspended: on_paused,
            m.GrantDeleted: on_deleted,
            m.GrantExpiring: ignore,
        },
        "sync.user_events": {m.UserDeleted: on_user_deleted},
    }


def dispatch(table: Routes) -> Callable[[m.Message, Delivery], Awaitable[None]]:
    """Adapt a routing table to ``Broker.consume``'s ``handler(message, delivery)`` form."""

    async def handle(message: m.Message, delivery: Delivery) -> None:
        handler = table.get(type(message))
        if handler is None:
            raise Reject(f"no route for message type {message.TYPE!r} on {delivery.queue}")
        assert delivery.conn is not None, "sync consumes with a pool"
        await handler(message, delivery.conn, delivery)

    return handle
