"""Fixtures for auth service tests: a running auth service on the emulator, and a Google account."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import pytest_asyncio

from shared.config import CommonConfig, GoogleConfig
from tests.service.auth.flow import Auth, StartAuth, running_auth


@pytest.fixture
def start_auth(common_config: Callable[..., CommonConfig], google_config: GoogleConfig) -> StartAuth:
    """``async with start_auth(clock=..., **config_changes) as auth``: auth on the emulator, other settings."""
    return functools.partial(running_auth, common_config("auth"), google_config)


@pytest_asyncio.fixture
async def auth(start_auth: StartAuth, emulator: Any) -> AsyncIterator[Auth]:
    """auth serving on a real port with the wall clock; the emulator knows alice@example.com."""
    emulator.add_user("alice@example.com")
    async with start_auth() as service:
        yield service
