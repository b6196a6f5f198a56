"""Inbound messages for sync, as routing tables: appointment changes, auth's grant events and user
deletion. Each handler runs in the consumer's transaction (``processed_messages`` makes it
idempotent) and wakes the writer once it has committed; a message type without a route is
dead-lettered (``shared.consumer``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import asyncpg

from services.sync.usecases import appointments, grants, users
from shared import messages as m
from shared.clock import Clock
from shared.consumer import Delivery, Routes
from shared.db import after_commit
from shared.outbox import Outbox


@dataclass(frozen=True)
class ConsumerDeps:
    clock: Clock
    outbox: Outbox
    wake_writer: Callable[[], None]
    forget_token: Callable[[str], None]  # a grant event may mean another account or a dead token
    wake_channels: Callable[[], None]  # a deleted grant's channels are waiting to be stopped


def routes(deps: ConsumerDeps) -> dict[str, Routes]:
    """The routing table of each queue sync consumes."""
    grant_deps = grants.GrantDeps(deps.clock, deps.outbox)

    async def on_appointment(
        message: appointments.AppointmentChange, conn: asyncpg.Connection, _: Delivery
    ) -> None:
        if await appointments.record(conn, message, deps.clock):
            after_commit(deps.wake_writer)

    async def on_connected(message: m.GrantConnected, conn: asyncpg.Connection, _: Delivery) -> None:
        await grants.connected(conn, message, grant_deps)
        deps.forget_token(message.user_id)
        after_commit(deps.wake_writer)

    async def on_paused(
        message: m.GrantDisconnected | m.GrantSuspended, conn: asyncpg.Connection, _: Delivery
    ) -> None:
        await grants.paused(conn, message, grant_deps)
        deps.forget_token(message.user_id)

    async def on_deleted(message: m.GrantDeleted, conn: asyncpg.Connection, _: Delivery) -> None:
        await grants.deleted(conn, message, grant_deps)
        deps.forget_token(message.user_id)
        after_commit(deps.wake_channels)

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
