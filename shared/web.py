"""HTTP pieces every service shares: one middleware for the request context and access log, the
refusal of control characters in paths and queries and the service-token check, bounded JSON bodies (``read_json``), the
landing page at ``/`` (``add_landing_page``), and the internal listener for health, readiness and
metrics (shared.internal_http).

The access log prints the path without its query string, because signed links and OAuth codes
travel in query strings. Paths marked with ``quiet_access_log`` (a high-rate path with its own
metric, like Google's push notifications) log their answered requests at DEBUG only. Routes under ``/api/`` require the platform's service token
(``Authorization: Bearer <token>``), compared in constant time. Bad input gets a 400 with a JSON
body ``{"error": <code>, "detail": <why>}``, never a 500.
"""

from __future__ import annotations

import hmac
import itertools
import json
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import structlog
from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram
from structlog.contextvars import bind_contextvars, reset_contextvars

from shared.internal_http import ReadinessCheck, internal_app, listener_context
from shared.jsonlimits import JsonRefused, first_unstorable, loads_bounded
from shared.landing import Link, landing_html

log = structlog.get_logger("calsync.http")
_stdlib_log = logging.getLogger("calsync.http")  # its level decides whether a DEBUG line is made at all

HandlerT = Callable[[web.Request], Awaitable[web.StreamResponse]]

REGISTRY = web.AppKey("metrics_registry", CollectorRegistry)
SERVICE_TOKEN = web.AppKey("service_token", str)
READINESS = web.AppKey("readiness_checks", dict)
INTERNAL_ADDRESS = web.AppKey("internal_address", tuple)  # (host, port) once the listener is up
_HTTP_METRICS: web.AppKey[_HttpMetrics] = web.AppKey("http_metrics")

JSON_MAX_BYTES = 64 * 1024
JSON_MAX_DEPTH = 32
# C0 controls, DEL, and UTF-16 surrogates (which a broken percent-encoding can produce).
_CONTROL = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")


def setup_http(
    app: web.Application,
    *,
    service_token: str,
    registry: CollectorRegistry,
    internal_host: str = "127.0.0.1",
    internal_port: int = 0,
) -> None:
    """Install the middlewares on ``app`` and serve /healthz, /readyz and /metrics on a separate
    internal listener at ``internal_host:internal_port`` (0: a free port; see ``INTERNAL_ADDRESS``)."""
    app[REGISTRY] = registry
    app[SERVICE_TOKEN] = service_token
    checks: dict[str, ReadinessCheck] = {}
    app[READINESS] = checks
    app[_HTTP_METRICS] = _HttpMetrics(registry)
    app.middlewares.append(request_context)

    def bound(address: tuple[str, int]) -> None:
        app[INTERNAL_ADDRESS] = address

    app.cleanup_ctx.append(
        listener_context(lambda: internal_app(registry, checks), internal_host, internal_port, bound)
    )


def quiet_access_log(app: web.Application, path: str) -> None:
    """Log requests to ``path`` answered below 400 at DEBUG (still counted and timed); refusals and
    failures stay at INFO and above."""
    app[_HTTP_METRICS].quiet_paths.add(path)


def add_readiness_check(app: web.Application, name: str, check: ReadinessCheck) -> None:
    app[READINESS][name] = check


def add_landing_page(
    app: web.Application,
    *,
    title: str,
    description: str,
    links: Sequence[Link | tuple[str, str]] = (),
) -> None:
    """Answer ``GET /`` with a short HTML page: ``title``, the one-paragraph ``description``, links
    to the public pages (``Link`` or ``(label, href)``) and, when the app has an internal listener,
    the port where probes and metrics are served."""
    pages = [link if isinstance(link, Link) else Link(*link) for link in links]

    async def landing(request: web.Request) -> web.Response:
        address = request.app.get(INTERNAL_ADDRESS)
        port = int(address[1]) if address else None
        return web.Response(
            text=landing_html(title, description, pages, internal_port=port), content_type="text/html"
        )

    app.router.add_get("/", landing)


@web.middleware
async def request_context(request: web.Request, handler: HandlerT) -> web.StreamResponse:
    """Bind a request id, refuse bad input before any handler sees it (control characters, a
    missing service token), log one summary line (path without query), count and time the request.
    One middleware, not three: this runs for every request, Google's pushes included."""
    request_id = request.headers.get("X-Request-ID") or _new_request_id()
    started = time.perf_counter()
    status = 500
    bound = bind_contextvars(request_id=request_id)
    try:
        refuse_control_characters(request)
        check_service_token(request)
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
        request.app[_HTTP_METRICS].record(request, status, time.perf_counter() - started)
        reset_contextvars(**bound)


_PROCESS_ID = secrets.token_hex(8)  # request ids: this process's random prefix and a counter
_REQUEST_COUNT = itertools.count(1)


def _new_request_id() -> str:
    """A request id unique across processes, without a system call per request (uuid4 makes one)."""
    return f"{_PROCESS_ID}{next(_REQUEST_COUNT):08x}"


class _HttpMetrics:
    """The request counter and timer, with each label combination's child kept (``labels()`` is
    slow), and the access log line."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.quiet_paths: set[str] = set()
        self._counter = Counter(
            "calsync_http_requests_total", "HTTP requests", ["method", "route", "status"], registry=registry
        )
        self._timer = Histogram(
            "calsync_http_request_seconds", "HTTP request duration", ["route"], registry=registry
        )
        self._counters: dict[tuple[str, str, int], Any] = {}
        self._timers: dict[str, Any] = {}

    def record(self, request: web.Request, status: int, seconds: float) -> None:
        route = request.match_info.route.resource
        name = route.canonical if route is not None else "unmatched"
        key = (request.method, name, status)
        counter = self._counters.get(key)
        if counter is None:
            counter = self._counters[key] = self._counter.labels(request.method, name, str(status))
        counter.inc()
        timer = self._timers.get(name)
        if timer is None:
            timer = self._timers[name] = self._timer.labels(name)
        timer.observe(seconds)
        quiet = status < 400 and request.path in self.quiet_paths
        if quiet and not _stdlib_log.isEnabledFor(logging.DEBUG):
            return
        (log.debug if quiet else log.info)(
            "http_request",
            method=request.method,
            path=request.path,
            status=status,
            duration_ms=round(seconds * 1000, 1),
        )


def bad_request(error: str, detail: str) -> web.HTTPBadRequest:
    """A 400 whose JSON body names the problem (``error``, a code) and explains it (``detail``)."""
    return web.HTTPBadRequest(
        text=json.dumps({"error": error, "detail": detail}), content_type="application/json"
    )


def refuse_control_characters(request: web.Request) -> None:
    """A path or query with a NUL or another control character is refused with 400 before any
    handler sees it (no user id, token or link legitimately contains one)."""
    if _CONTROL.search(request.path):
        raise bad_request("invalid_characters", "the path contains a control character")
    for name, value in request.query.items():
        if _CONTROL.search(name):
            raise bad_request("invalid_characters", "a query parameter name contains a control character")
        if _CONTROL.search(value):
            raise bad_request("invalid_characters", f"query parameter {name!r} contains a control character")


async def read_json(
    request: web.Request, *, max_bytes: int = JSON_MAX_BYTES, max_depth: int = JSON_MAX_DEPTH
) -> Any:
    """The request body as JSON; 400 if it is larger than ``max_bytes``, nested deeper than
    ``max_depth``, not UTF-8 JSON, or holds text the database cannot store (NUL)."""
    if request.content_length is not None and request.content_length > max_bytes:
        raise bad_request("body_too_large", f"the body is larger than {max_bytes} bytes")
    chunks: list[bytes] = []
    size = 0
    while chunk := await request.content.read(64 * 1024):
        size += len(chunk)
        if size > max_bytes:
            raise bad_request("body_too_large", f"the body is larger than {max_bytes} bytes")
        chunks.append(chunk)
    try:
        data = loads_bounded(b"".join(chunks), max_bytes=max_bytes, max_depth=max_depth)
    except JsonRefused as exc:
        raise bad_request("invalid_json", str(exc)) from None
    problem = first_unstorable(data, max_depth=max_depth)
    if problem is not None:
        raise bad_request("invalid_text", f"{problem[0]}: {problem[1]}")
    return data


def check_service_token(request: web.Request) -> None:
    """Routes under /api/ need ``Authorization: Bearer <SERVICE_TOKEN>``."""
    if request.path.startswith("/api/"):
        expected = request.app[SERVICE_TOKEN]
        given = request.headers.get("Authorization", "")
        scheme, _, token = given.partition(" ")
        ok = (
            bool(expected)
            and scheme.lower() == "bearer"
            # aiohttp keeps bytes that are not UTF-8 as lone surrogates; they never match, never raise
            and hmac.compare_digest(token.strip().encode("utf-8", "surrogatepass"), expected.encode())
        )
        if not ok:
            raise web.HTTPUnauthorized(
                text='{"error": "service token required"}',
                content_type="application/json",
                headers={"WWW-Authenticate": 'Bearer realm="calsync"'},
            )
