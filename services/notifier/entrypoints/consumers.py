"""Inbound messages for the notifier: the platform's user events, auth's grant events, sync's calendar
events. Each handler runs in the consumer's transaction (idempotent by message id), calls one use
case and only records intent; the delivery job (``jobs``) sends. The module ends with the routing
table from message type to handler.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

import asyncpg

from services.notifier.domain.episodes import ending_for, opening_for
from services.notifier.usecases import alert_operator, announce_expiry, contacts, end_episode, start_episode
from shared import messages as m
from shared.clock import Clock
from shared.consumer import Delivery, Handler, Reject

T = TypeVar("T")

# Which message types each notifier queue carries (its bindings, see shared.topology).
QUEUE_TYPES: Mapping[str, tuple[type[m.Message], ...]] = {
    "notifier.user_events": (m.UserContactChanged, m.UserDeleted),
    "notifier.auth_events": (
        m.GrantConnected,
        m.GrantDisconnected,
        m.GrantSuspended,
        m.GrantExpiring,
        m.GrantDeleted,
        m.OperatorAlert,
    ),
    "notifier.calendar_events": (m.CalendarProblem, m.CalendarSelected),
}


@dataclass(frozen=True)
class ConsumerDeps:
    """What the handlers need: the clock and the configurable parts of what gets sent."""

    clock: Clock
    reconnected_email: bool
    operator_email: str


@dataclass(frozen=True)
class Handlers:
    deps: ConsumerDeps

    async def contact_changed(
        self, message: m.UserContactChanged, conn: asyncpg.Connection, _delivery: Delivery
    ) -> None:
        await contacts.record_contact(conn, message)

    async def user_deleted(
        self, message: m.UserDeleted, conn: asyncpg.Connection, _delivery: Delivery
    ) -> None:
        await contacts.forget_user(conn, message.user_id, clock=self.deps.clock)

    async def problem_reported(
        self, message: m.Message, conn: asyncpg.Connection, _delivery: Delivery
    ) -> None:
        """A grant disconnected or suspended, or the calendar unusable: an episode starts."""
        opening = _required(opening_for(message), message, "reports no problem")
        await start_episode.open_episode(conn, opening, clock=self.deps.clock)

    async def problem_resolved(
        self, message: m.Message, conn: asyncpg.Connection, _delivery: Delivery
    ) -> None:
        """A reconnect, a deleted connection or another calendar: the subject's episode ends."""
        ending = _required(ending_for(message), message, "resolves no problem")
        confirm = self.deps.reconnected_email
        await end_episode.end_episode(conn, ending, clock=self.deps.clock, confirm=confirm)

    async def grant_expiring(
        self, message: m.GrantExpiring, conn: asyncpg.Connection, _delivery: Delivery
    ) -> None:
        await announce_expiry.announce_expiry(conn, message, clock=self.deps.clock)

    async def operator_alert(
        self, message: m.OperatorAlert, conn: asyncpg.Connection, _delivery: Delivery
    ) -> None:
        operator_email = self.deps.operator_email
        await alert_operator.alert_operator(
            conn, message, clock=self.deps.clock, operator_email=operator_email
        )


def _required(found: T | None, message: m.Message, otherwise: str) -> T:
    """What the domain read from ``message``; a message it reads nothing from is refused."""
    if found is None:
        raise Reject(f"{message.TYPE!r} {otherwise}")
    return found


def routes_for(queue: str, routes: Mapping[type[m.Message], Handler]) -> dict[type[m.Message], Handler]:
    """The part of the routing table that ``queue`` carries; the consumer dead-letters any other type."""
    return {kind: routes[kind] for kind in QUEUE_TYPES[queue]}


def routing_table(deps: ConsumerDeps) -> dict[type[m.Message], Handler]:
    """Message type -> handler, for every message the notifier consumes."""
    on = Handlers(deps)
    return {
        m.UserContactChanged: on.contact_changed,
        m.UserDeleted: on.user_deleted,
        m.GrantDisconnected: on.problem_reported,
        m.GrantSuspended: on.problem_reported,
        m.CalendarProblem: on.problem_reported,
        m.GrantConnected: on.problem_resolved,
        m.GrantDeleted: on.problem_resolved,
        m.CalendarSelected: on.problem_resolved,
        m.GrantExpiring: on.grant_expiring,
        m.OperatorAlert: on.operator_alert,
    }
