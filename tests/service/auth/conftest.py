"""Fixtures for auth service tests: a running auth service on the emulator, and a Google account."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest_asyncio

from shared.config import CommonConfig, GoogleConfig
from tests.service.auth.flow import Auth, running_auth


@pytest_asyncio.fixture
async def auth(
    common_config: Callable[..., CommonConfig], google_config: GoogleConfig, emulator: Any
) -> AsyncIterator[Auth]:
    """auth serving on a real port with the wall clock; the emulator knows alice@example.com."""
    emulator.add_user("alice@example.com")
    async with running_auth(common_config("auth"), google_config) as service:
        yield service
