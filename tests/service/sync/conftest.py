"""Fixtures for sync service tests: auth's token answers on the bus, a running sync, and both with
Google, the bus and the database as one ``world``."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import pytest
import pytest_asyncio

from shared.config import CommonConfig, GoogleConfig
from tests.service.sync.support import SyncWorld, TokenStandIn, running_sync, token_stand_in
from tests.support.bus import PublishingBroker


@pytest_asyncio.fixture
async def tokens(broker: PublishingBroker, emulator: Any) -> AsyncIterator[TokenStandIn]:
    async with token_stand_in(broker, emulator) as stand_in:
        yield stand_in


@pytest.fixture
def start_sync(common_config: Callable[..., CommonConfig], google_config: GoogleConfig) -> Callable[..., Any]:
    """``async with start_sync(clock=..., **writer_changes) as sync``."""
    return functools.partial(running_sync, common_config("sync"), google_config)


@pytest.fixture
def world(
    start_sync: Callable[..., Any],
    tokens: TokenStandIn,
    emulator: Any,
    broker: PublishingBroker,
    clean_db: asyncpg.Pool,
) -> SyncWorld:
    return SyncWorld(start_sync, tokens, emulator, broker, clean_db)
