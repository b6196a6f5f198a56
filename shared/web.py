"""HTTP pieces every service shares: request context and access log, service-token check,
liveness/readiness and Prometheus metrics.

The access log prints the path without its query string, because signed links and OAuth codes
travel in query strings. Routes under ``/api/`` require the platform's service token
(``Authorization: Bearer <token>``), compared in constant time.
"""

from __future__ import annotations

import asyncio
import hmac
import time
import uuid
from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from structlog.contextvars import bound_contextvars

log = structlog.get_logger("calsync.http")

ReadinessCheck = Callable[[], Awaitable[None]]
HandlerT = Callable[[web.Request], Awaitable[web.StreamResponse]]

REGISTRY = web.AppKey("metrics_registry", CollectorRegistry)
SERVICE_TOKEN = web.AppKey("service_token", str)
READINESS = web.AppKey("readiness_checks", dict)
_HTTP_METRICS = web.AppKey("http_metrics", tuple)

QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


def setup_http(app: web.Application, *, service_token: str, registry: CollectorRegistry) -> None:
    """Install middlewares and the /healthz, /readyz and /metrics routes on ``app``."""
    app[REGISTRY] = registry
    app[SERVICE_TOKEN] = service_token
    app[READINESS] = {}
    app[_HTTP_METRICS] = (
        Counter(
            "calsync_http_requests_total", "HTTP requests", ["method", "route", "status"], registry=registry
        ),
        Histogram("calsync_http_request_seconds", "HTTP request duration", ["route"], registry=registry),
    )
    app.middlewares.extend([request_context, service_token_check])
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)


def add_readiness_check(app: web.Application, name: str, check: ReadinessCheck) -> None:
    app[READINESS][name] = check


@web.middleware
async def request_context(request: web.Request, handler: HandlerT) -> web.StreamResponse:
    """Bind a request id, log one summary line (path without query), count and time the request."""
    request_id = request.headers.get("X-Request-ID") or uuid.uuid4().hex
    started = time.perf_counter()
    status = 500
    with bound_contextvars(request_id=request_id):
        try:
            response = await handler(request)
            status = response.status
            response.headers.setdefault("X-Request-ID", request_id)
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        except Exception:
            log.exception("request_failed", method=request.method, path=request.path)
            raise web.HTTPInternalServerError(
                text='{"error": "internal_error"}', content_type="application/json"
            ) from None
        finally:
            _record(request, status, time.perf_counter() - started)


def _record(request: web.Request, status: int, seconds: float) -> None:
    route = request.match_info.route.resource
    name = route.canonical if route is not None else "unmatched"
    counter, histogram = request.app[_HTTP_METRICS]
    counter.labels(request.method, name, str(status)).inc()
    histogram.labels(name).observe(seconds)
    if request.path not in QUIET_PATHS:
        log.info(
            "http_request",
            method=request.method,
            path=request.path,
            status=status,
            duration_ms=round(seconds * 1000, 1),
        )


@web.middleware
async def service_token_check(request: web.Request, handler: HandlerT) -> web.StreamResponse:
    """Routes under /api/ need ``Authorization: Bearer <SERVICE_TOKEN>``."""
    if request.path.startswith("/api/"):
        expected = request.app[SERVICE_TOKEN]
        given = request.headers.get("Authorization", "")
        scheme, _, token = given.partition(" ")
        ok = (
            bool(expected)
            and scheme.lower() == "bearer"
            and hmac.compare_digest(token.strip().encode(), expected.encode())
        )
        if not ok:
            raise web.HTTPUnauthorized(
                text='{"error": "service token required"}',
                content_type="application/json",
                headers={"WWW-Authenticate": 'Bearer realm="calsync"'},
            )
    return await handler(request)


async def healthz(_request: web.Request) -> web.Response:
    """Liveness: the process answers."""
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Readiness: every dependency check passes within its time limit."""
    checks = request.app[READINESS]
    results = await asyncio.gather(*(_run_check(c) for c in checks.values()))
    report = dict(zip(checks, results, strict=True))
    ready = all(r == "ok" for r in report.values())
    return web.json_response(
        {"status": "ready" if ready else "not_ready", "checks": report}, status=200 if ready else 503
    )


async def _run_check(check: ReadinessCheck) -> str:
    try:
        async with asyncio.timeout(3):
            await check()
        return "ok"
    except Exception as exc:
        return f"failed: {type(exc).__name__}"


async def metrics(request: web.Request) -> web.Response:
    body = generate_latest(request.app[REGISTRY])
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
