"""Fixtures for notifier service tests: a mail catcher, auth's link endpoint stand-in, a manual clock."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import pytest
import pytest_asyncio

from devtools.mailcatcher import MailCatcher
from shared import messages as m
from shared.amqp import Broker
from shared.clock import ManualClock
from shared.config import CommonConfig
from tests.service.notifier.support import (
    AuthLinksStandIn,
    Notifier,
    NotifierWorld,
    PermanentFailure,
    auth_links_stand_in,
    failed_for_good,
    running_notifier,
)
from tests.support.helpers import Probe


@pytest_asyncio.fixture
async def mail() -> AsyncIterator[MailCatcher]:
    """A real SMTP server on a free port that keeps every message."""
    async with MailCatcher() as catcher:
        yield catcher


@pytest_asyncio.fixture
async def auth_links(service_token: str) -> AsyncIterator[AuthLinksStandIn]:
    async with auth_links_stand_in(service_token) as stand_in:
        yield stand_in


@pytest_asyncio.fixture
async def notifier_events(probe: Callable[..., Any]) -> Probe:
    """What the notifier publishes for the platform (``notification.*``), from before the test acts."""
    events: Probe = await probe(m.NOTIFIER_EVENTS)
    return events


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def permanent_failure(notifier_events: Probe, clean_db: asyncpg.Pool, clock: ManualClock) -> PermanentFailure:
    """``await permanent_failure()``: the alert's ``notification.failed`` event, announced as permanent,
    once a month later nothing is due (``failed_for_good``)."""
    return functools.partial(failed_for_good, notifier_events, clean_db, clock)


@pytest_asyncio.fixture
async def notifier(
    common_config: Callable[..., CommonConfig],
    mail: MailCatcher,
    auth_links: AuthLinksStandIn,
    clock: ManualClock,
) -> AsyncIterator[Notifier]:
    """The notifier running in-process on the test's database, broker prefix, mail catcher and clock."""
    async with running_notifier(
        common_config("notifier"), smtp_port=mail.port, auth_url=auth_links.url, clock=clock
    ) as service:
        yield service


@pytest.fixture
def world(
    notifier: Notifier, broker: Broker, clean_db: asyncpg.Pool, mail: MailCatcher, clock: ManualClock
) -> NotifierWorld:
    """The running notifier with its bus, database (emptied after), mail catcher and clock."""
    return NotifierWorld(notifier, broker, clean_db, mail, clock)


@pytest.fixture
def start_notifier(
    common_config: Callable[..., CommonConfig],
    mail: MailCatcher,
    auth_links: AuthLinksStandIn,
    clock: ManualClock,
) -> Callable[..., Any]:
    """``async with start_notifier(**config_changes) as n``: another instance or other settings."""

    def start(**changes: Any) -> Any:
        return running_notifier(
            common_config("notifier"), smtp_port=mail.port, auth_url=auth_links.url, clock=clock, **changes
        )

    return start
