"""The internal listener: liveness (/healthz), readiness (/readyz) and Prometheus metrics (/metrics)
on their own host and port, so that the public port (settings pages, OAuth, RISC) never serves them.

It starts before the service's other start-up steps, so probes get an answer (and /readyz a 503)
while the pool and the broker connect, and it stops last.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import structlog
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

log = structlog.get_logger("calsync.http")

ReadinessCheck = Callable[[], Awaitable[None]]

_REGISTRY = web.AppKey("internal_registry", CollectorRegistry)
_CHECKS = web.AppKey("internal_checks", dict)
CHECK_TIMEOUT_SECONDS = 3


def internal_app(registry: CollectorRegistry, checks: dict[str, ReadinessCheck]) -> web.Application:
    """The internal routes over ``checks`` (a live dict: checks added later count too)."""
    app = web.Application(client_max_size=1024)
    app[_REGISTRY] = registry
    app[_CHECKS] = checks
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    return app


def listener_context(
    make_app: Callable[[], web.Application],
    host: str,
    port: int,
    bound: Callable[[tuple[str, int]], None],
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup context serving ``make_app()`` on ``host:port``; ``bound`` receives the address."""

    async def ctx(_app: web.Application) -> AsyncIterator[None]:
        runner = web.AppRunner(make_app(), access_log=None, shutdown_timeout=2)
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port).start()
            address = runner.addresses[0]
            bound((str(address[0]), int(address[1])))
            log.info("internal_listener_started", host=address[0], port=address[1])
            yield
        finally:
            await runner.cleanup()

    return ctx


async def healthz(_request: web.Request) -> web.Response:
    """Liveness: the process answers."""
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Readiness: every dependency check passes within its time limit."""
    checks = request.app[_CHECKS]
    results = await asyncio.gather(*(_run_check(check) for check in checks.values()))
    report = dict(zip(checks, results, strict=True))
    ready = all(result == "ok" for result in report.values())
    return web.json_response(
        {"status": "ready" if ready else "not_ready", "checks": report}, status=200 if ready else 503
    )


async def _run_check(check: ReadinessCheck) -> str:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            await check()
        return "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready", named by its type
        return f"failed: {type(exc).__name__}"


async def metrics(request: web.Request) -> web.Response:
    """Prometheus text exposition of the service's registry."""
    body = generate_latest(request.app[_REGISTRY])
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
