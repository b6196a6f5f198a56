"""Shared pieces for screenshot modules: a throwaway database and AMQP prefix, and headless Chromium."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from shared.amqp import Broker
from shared.config import DEFAULT_AMQP_URL, DEFAULT_DATABASE_URL
from tests.browser.conftest import CHROMIUM_ARGS, CHROMIUM_PATH


@asynccontextmanager
async def scratch_infrastructure() -> AsyncIterator[tuple[str, str, str]]:
    """(database_url, amqp_url, amqp_prefix): a fresh database and prefix, removed afterwards."""
    admin_dsn = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    amqp_url = os.environ.get("AMQP_URL", DEFAULT_AMQP_URL)
    name = f"calsync_shots_{uuid.uuid4().hex[:8]}"
    prefix = f"s{uuid.uuid4().hex[:8]}."
    admin = await asyncpg.connect(admin_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin_dsn.rpartition("/")[0] + "/" + name, amqp_url, prefix
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
        broker = Broker(amqp_url, prefix=prefix)
        await broker.connect()
        try:
            await broker.delete_topology()
        finally:
            await broker.close()


@asynccontextmanager
async def chromium() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM_PATH, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            await browser.close()
