"""A pool on the auth schema, migrated, for repository-level tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest_asyncio

from shared import db

AUTH_MIGRATIONS = Path(__file__).parents[3] / "services" / "auth" / "migrations"


@pytest_asyncio.fixture
async def auth_pool(database_url: str, clean_db: asyncpg.Pool) -> AsyncIterator[asyncpg.Pool]:
    """asyncpg pool with search_path=auth and every auth migration applied; tables emptied afterwards."""
    pool = await db.create_pool(database_url, schema="auth", application_name="auth-tests", max_size=4)
    await db.migrate(pool, "auth", [db.SHARED_MIGRATIONS, AUTH_MIGRATIONS])
    yield pool
    await db.close_pool(pool)
