"""Inbound messages for sync: appointment changes, grant events and user deletion."""

from __future__ import annotations

from services.sync import service
from shared import messages as m
from shared.consumer import Delivery, Reject


async def on_appointment(message: m.Message, delivery: Delivery) -> None:
    assert delivery.conn is not None
    if not isinstance(message, m.AppointmentCreated | m.AppointmentUpdated | m.AppointmentCancelled):
        raise Reject(f"unexpected message type {message.TYPE!r} on {delivery.queue}")
    await service.record_appointment(delivery.conn, message)


async def on_grant_event(message: m.Message, delivery: Delivery) -> None:
    assert delivery.conn is not None
    await service.record_grant_event(delivery.conn, message)


async def on_user_event(message: m.Message, delivery: Delivery) -> None:
    assert delivery.conn is not None
    if isinstance(message, m.UserDeleted):
        await service.forget_user(delivery.conn, message.user_id)
