"""Fixtures for auth service tests: a running auth service on the emulator that knows a Google account
(``start_auth``, for other settings, is in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio

from tests.service.auth.flow import Auth, StartAuth


@pytest_asyncio.fixture
async def auth(start_auth: StartAuth, emulator: Any) -> AsyncIterator[Auth]:
    """auth serving on a real port with the wall clock; the emulator knows alice@example.com."""
    emulator.add_user("alice@example.com")
    async with start_auth() as service:
        yield service
