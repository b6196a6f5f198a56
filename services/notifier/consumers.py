"""Inbound messages for the notifier: user contact events, auth's grant events, sync's calendar events.

Each handler runs in the consumer's transaction (idempotent by message id) and only records intent;
the delivery worker (``jobs``) sends.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from services.notifier import service
from shared import messages as m
from shared.clock import Clock
from shared.consumer import Delivery, Reject

ACCEPTED: dict[str, tuple[type[m.Message], ...]] = {
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


def handler(
    queue: str, *, clock: Clock, policy: service.Policy
) -> Callable[[m.Message, Delivery], Awaitable[None]]:
    """The consumer for ``queue``: checks the message type belongs there, then applies it."""
    accepted = ACCEPTED[queue]

    async def on_message(message: m.Message, delivery: Delivery) -> None:
        assert delivery.conn is not None
        if not isinstance(message, accepted):
            raise Reject(f"unexpected message type {message.TYPE!r} on {delivery.queue}")
        await service.handle(delivery.conn, message, clock=clock, policy=policy)

    return on_message
