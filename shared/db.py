"""PostgreSQL access: an asyncpg pool bound to one service's schema, and its migrations.

Each service owns one schema (``auth``, ``sync``, ``notifier``) and never reads another's tables.
Migrations are plain SQL files applied in name order at start-up, under a PostgreSQL advisory lock so
that replicas starting together apply each file exactly once. The shared messaging tables
(``shared/migrations``) come first in every schema. ``transaction`` opens a transaction whose
``after_commit`` callbacks run only once it has committed.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import asyncpg
import structlog
from aiohttp import web

log = structlog.get_logger(__name__)

SHARED_MIGRATIONS = Path(__file__).parent / "migrations"

AfterCommit = Callable[[], None]

# The innermost open ``transaction`` of the running task, and the callbacks registered in it.
_pending: ContextVar[tuple[asyncio.Task[Any] | None, list[AfterCommit]] | None] = ContextVar(
    "calsync_after_commit", default=None
)


@asynccontextmanager
async def transaction(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    """``async with transaction(pool) as conn:`` acquires a connection and opens a transaction;
    callbacks registered with ``after_commit`` inside run once it has committed, never on rollback."""
    callbacks: list[AfterCommit] = []
    token = _pending.set((asyncio.current_task(), callbacks))
    try:
        async with pool.acquire() as conn, conn.transaction():
            yield conn
    finally:
        _pending.reset(token)
    for callback in callbacks:
        try:
            callback()
        except Exception:  # committed already: one failing callback must not undo the rest
            log.exception("after_commit_callback_failed")


def after_commit(callback: AfterCommit) -> None:
    """Run ``callback`` when the current task's ``transaction`` commits (now, outside of one).

    A task started inside a transaction does not inherit it: its callbacks run immediately."""
    pending = _pending.get()
    if pending is None or pending[0] is not asyncio.current_task():
        callback()
        return
    pending[1].append(callback)


async def _init_connection(conn: asyncpg.Connection) -> None:
    for kind in ("json", "jsonb"):
        await conn.set_type_codec(kind, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def create_pool(
    dsn: str, *, schema: str, application_name: str, min_size: int = 1, max_size: int = 10
) -> asyncpg.Pool:
    """A pool whose connections use ``schema`` and UTC, with JSON codecs installed."""
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        command_timeout=30,
        init=_init_connection,
        server_settings={
            "application_name": application_name,
            "search_path": schema,
            "timezone": "UTC",
        },
    )
    assert pool is not None
    return pool


async def close_pool(pool: asyncpg.Pool) -> None:
    """Close gracefully, but never wait forever for connections that are still acquired."""
    try:
        await asyncio.wait_for(pool.close(), 10)
    except TimeoutError:
        pool.terminate()


async def migrate(pool: asyncpg.Pool, schema: str, directories: Sequence[Path]) -> list[str]:
    """Apply every not yet applied ``*.sql`` file, in order; returns the names applied now."""
    applied_now: list[str] = []
    async with pool.acquire() as conn:
        await conn.execute("SELECT pg_advisory_lock(hashtext($1))", f"calsync.migrate.{schema}")
        try:
            await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            await conn.execute(
                f'CREATE TABLE IF NOT EXISTS "{schema}".schema_migrations ('
                " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            # The schema name is a constant of the service, never user input.
            done = {r["name"] for r in await conn.fetch(f'SELECT name FROM "{schema}".schema_migrations')}  # noqa: S608
            for name, path in _migration_files(directories):
                if name in done:
                    continue
                async with conn.transaction():
                    await conn.execute(f'SET LOCAL search_path TO "{schema}"')
                    await conn.execute(path.read_text())
                    await conn.execute(
                        f'INSERT INTO "{schema}".schema_migrations (name) VALUES ($1)',  # noqa: S608
                        name,
                    )
                applied_now.append(name)
        finally:
            await conn.execute("SELECT pg_advisory_unlock(hashtext($1))", f"calsync.migrate.{schema}")
    if applied_now:
        log.info("migrations_applied", schema=schema, migrations=applied_now)
    return applied_now


def _migration_files(directories: Sequence[Path]) -> list[tuple[str, Path]]:
    files: list[tuple[str, Path]] = []
    for directory in directories:
        prefix = "shared" if directory == SHARED_MIGRATIONS else "service"
        files += [(f"{prefix}/{p.name}", p) for p in sorted(directory.glob("*.sql"))]
    return files


def pool_context(
    key: web.AppKey[asyncpg.Pool],
    *,
    dsn: str,
    schema: str,
    migrations: Path,
    application_name: str,
    max_size: int = 10,
) -> Callable[[web.Application], AsyncIterator[None]]:
    """An aiohttp cleanup context: create the pool, migrate the schema, close on exit."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        pool = await create_pool(dsn, schema=schema, application_name=application_name, max_size=max_size)
        try:
            await migrate(pool, schema, [SHARED_MIGRATIONS, migrations])
            app[key] = pool
            yield
        finally:
            await close_pool(pool)

    return ctx


class DatabaseProbe:
    """The readiness check of a pool: raise unless the database answers within ``timeout`` seconds.

    One check is in flight at a time and a probe's time limit never cancels it: after an outage the
    pool reconnects inside the check, and on a busy machine a reconnect can outlast one probe's
    limit; cancelling it would start the same slow reconnect again at every probe, so readiness
    would never come back. The reconnect finishes instead, and a later probe sees the answer."""

    def __init__(self, pool_of: Callable[[], asyncpg.Pool], timeout: float = 2.0) -> None:
        self._pool_of, self._timeout = pool_of, timeout
        self._in_flight: asyncio.Future[None] | None = None

    async def __call__(self) -> None:
        if self._in_flight is None or self._in_flight.done():
            self._in_flight = asyncio.ensure_future(self._select_one())
            self._in_flight.add_done_callback(_retrieve)
        async with asyncio.timeout(self._timeout):
            await asyncio.shield(self._in_flight)

    async def _select_one(self) -> None:
        async with self._pool_of().acquire() as conn:
            await conn.fetchval("SELECT 1")


def _retrieve(future: asyncio.Future[None]) -> None:
    """A check that failed after its probe gave up is retrieved here (the next probe starts anew)."""
    if not future.cancelled():
        future.exception()


def record(row: Any) -> dict[str, Any]:
    """An asyncpg Record as a plain dict (None stays None)."""
    return dict(row) if row is not None else {}
