"""Fixtures for sync service tests: auth's token answers on the bus, and a running sync."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import pytest_asyncio

from shared.config import CommonConfig, GoogleConfig
from tests.service.sync.support import TokenStandIn, running_sync, token_stand_in
from tests.support.bus import PublishingBroker


@pytest_asyncio.fixture
async def tokens(broker: PublishingBroker, emulator: Any) -> AsyncIterator[TokenStandIn]:
    async with token_stand_in(broker, emulator) as stand_in:
        yield stand_in


@pytest.fixture
def start_sync(common_config: Callable[..., CommonConfig], google_config: GoogleConfig) -> Callable[..., Any]:
    """``async with start_sync(clock=..., **writer_changes) as sync``."""
    return functools.partial(running_sync, common_config("sync"), google_config)
