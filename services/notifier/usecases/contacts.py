"""The platform's user events: remember a user's newest contact details, or forget a deleted user
(every pending email dropped, everything about them deleted). Both run in the message's transaction.
"""

from __future__ import annotations

import asyncpg
import structlog

from services.notifier.adapters import repository
from shared import messages as m
from shared.clock import Clock

log = structlog.get_logger(__name__)


async def record_contact(conn: asyncpg.Connection, event: m.UserContactChanged) -> None:
    stored = await repository.save_contact(conn, event)
    log.info("contact_recorded" if stored else "contact_change_ignored", user_id=event.user_id)


async def forget_user(conn: asyncpg.Connection, user_id: str, *, clock: Clock) -> None:
    """A deleted user: every pending email is dropped and everything about them is deleted."""
    await repository.forget_user(conn, user_id, clock.now())
    log.info("user_forgotten", user_id=user_id)
