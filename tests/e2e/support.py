"""What the end-to-end tests share: auth and the notifier running together on the emulator and a
mail catcher, with one user connected through the real OAuth round trip."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import asyncpg

from devtools.mailcatcher import MailCatcher
from shared import messages as m
from shared.amqp import Broker
from shared.clock import ManualClock
from shared.config import CommonConfig, GoogleConfig
from tests.service.auth.flow import Auth, browser, connect, running_auth
from tests.service.auth.refresh_support import FAST
from tests.service.notifier.support import Notifier, finished, given_contacts, nothing_due, running_notifier
from tests.support.helpers import eventually

EMAIL = "alice@example.com"


@dataclass
class Chain:
    auth: Auth
    notifier: Notifier
    mail: MailCatcher
    clock: ManualClock
    user_id: str


StartChain = Callable[..., AbstractAsyncContextManager[Chain]]  # the ``start_chain`` fixture


@asynccontextmanager
async def chain(
    common_config: Callable[..., CommonConfig],
    google: GoogleConfig,
    emulator: Any,
    broker: Broker,
    db: asyncpg.Pool,
    **auth_changes: Any,
) -> AsyncIterator[Chain]:
    """auth (its config changed by ``auth_changes``) and the notifier running together; a user
    connected through the real OAuth round trip."""
    clock = ManualClock(datetime.now(UTC))  # events carry producer times; keep them near the wall clock
    emulator.add_user(EMAIL)
    async with (
        MailCatcher() as mail,
        running_auth(
            common_config("auth"),
            google,
            clock=clock,
            **{"refresh": replace(FAST, jitter=0.0), **auth_changes},
        ) as auth,
        running_notifier(
            common_config("notifier"), smtp_port=mail.port, auth_url=auth.url, clock=clock
        ) as notifier,
        browser() as http,
    ):
        user_id = "user-e2e"
        result = await connect(auth, http, user_id)
        assert result.status == 200, result.text
        await given_contacts(
            broker, db, m.UserContactChanged(user_id=user_id, email="alice@platform.example", name="Alice")
        )
        yield Chain(auth, notifier, mail, clock, user_id)


def plain(msg: EmailMessage) -> str:
    return str(msg.get_body(("plain",)).get_content())  # type: ignore[union-attr]


async def notifier_caught_up(chain: Chain, db: asyncpg.Pool) -> None:
    """Wait until auth has published every event it saved, the notifier has finished with each one
    and no email is due or in flight: only then is "exactly this many emails" a fact."""

    async def check() -> None:
        unsent = await db.fetchval("SELECT count(*) FROM auth.outbox WHERE sent_at IS NULL")
        saved = await db.fetchval("SELECT count(*) FROM auth.outbox WHERE exchange = $1", m.AUTH_EVENTS)
        assert unsent == 0 and finished(chain.notifier, queue="notifier.auth_events") == saved

    await eventually(check, timeout=20)
    await nothing_due(db, chain.clock)
