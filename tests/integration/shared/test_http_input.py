"""Every service's HTTP layer (shared.web) on a real port: bad input in the path, the query or a JSON
body is refused with 400 and a JSON reason, and health, readiness and metrics answer only on the
internal listener."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from prometheus_client import CollectorRegistry

from shared.web import add_readiness_check, quiet_access_log, read_json, setup_http
from tests.support import raw_http
from tests.support.helpers import ServedUrl, captured_logs, serve
from tests.support.service_apps import SERVICES, build_app

TOKEN = "svc-test-token"


async def _echo_user(request: web.Request) -> web.Response:
    return web.json_response({"user_id": request.match_info["user_id"], "q": dict(request.query)})


async def _echo_body(request: web.Request) -> web.Response:
    return web.json_response({"body": await read_json(request, max_bytes=4096)})


async def _always_ready() -> None:
    return None


def small_app() -> web.Application:
    app = web.Application()
    setup_http(app, service_token=TOKEN, registry=CollectorRegistry())
    add_readiness_check(app, "nothing", _always_ready)
    app.router.add_get("/users/{user_id}", _echo_user)
    app.router.add_post("/api/v1/echo", _echo_body)
    return app


@pytest_asyncio.fixture
async def served() -> AsyncIterator[ServedUrl]:
    async with serve(small_app()) as url:
        yield url


async def _answer(method: str, url: str, **kwargs: Any) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {TOKEN}", **kwargs.pop("headers", {})}
    async with aiohttp.ClientSession() as http, http.request(method, url, headers=headers, **kwargs) as r:
        text = await r.text()
        return r.status, json.loads(text) if r.content_type == "application/json" else text


@pytest.mark.parametrize(
    "path",
    ["/users/u%00x", "/users/u-1?locale=de%00", "/users/u-1?a%00=1", "/users/u%0Ax", "/users/u-1?x=%7F"],
)
async def test_control_characters_in_path_or_query_give_400(served: ServedUrl, path: str) -> None:
    """A NUL (or another control character) in a user id or a query parameter is a clear 400."""
    status, body = await _answer("GET", served + path)
    assert status == 400
    assert body["error"] == "invalid_characters" and "control character" in body["detail"]


async def test_ordinary_path_and_query_pass(served: ServedUrl) -> None:
    """Ids and parameters with spaces, umlauts and punctuation reach the handler unchanged."""
    status, body = await _answer("GET", served + "/users/j%C3%BCrgen%20m?locale=de-DE&x=a+b")
    assert (status, body) == (200, {"user_id": "jürgen m", "q": {"locale": "de-DE", "x": "a b"}})


@pytest.mark.parametrize(
    ("payload", "error", "detail"),
    [
        ("[" * 100_000 + "]" * 100_000, "body_too_large", "larger than 4096 bytes"),
        ("[" * 2_000 + "]" * 2_000, "invalid_json", "nested more than 32 levels deep"),
        ('{"a": ', "invalid_json", "not valid JSON"),
        ('{"name": "x\\u0000y"}', "invalid_text", "name: contains a NUL character at position 1"),
        ('{"items": ["ok", "\\ud800"]}', "invalid_text", "items.1: contains an unpaired UTF-16 surrogate"),
        ('{"n": NaN}', "invalid_json", "NaN is not a JSON number"),
    ],
)
async def test_bad_json_bodies_give_400_with_the_reason(
    served: ServedUrl, payload: str, error: str, detail: str
) -> None:
    """Over-large, over-deep, broken or unstorable JSON is refused with 400 naming the problem."""
    headers = {"Content-Type": "application/json"}
    status, body = await _answer("POST", served + "/api/v1/echo", data=payload, headers=headers)
    assert status == 400, body
    assert body["error"] == error and detail in body["detail"]


async def test_deep_body_within_the_size_limit_gives_400_not_500(served: ServedUrl) -> None:
    """A body nested far beyond Python's recursion limit is refused by depth, not by a crash."""
    app = web.Application()
    setup_http(app, service_token=TOKEN, registry=CollectorRegistry())

    async def echo(request: web.Request) -> web.Response:
        return web.json_response(await read_json(request, max_bytes=1024 * 1024))

    app.router.add_post("/api/v1/echo", echo)
    async with serve(app) as url:
        status, body = await _answer("POST", url + "/api/v1/echo", data="[" * 100_000 + "]" * 100_000)
    assert status == 400 and body["error"] == "invalid_json"


async def test_good_json_body_is_read(served: ServedUrl) -> None:
    """A small JSON object reaches the handler as data."""
    status, body = await _answer("POST", served + "/api/v1/echo", json={"locale": "de", "n": [1, {"a": 2}]})
    assert (status, body) == (200, {"body": {"locale": "de", "n": [1, {"a": 2}]}})


@pytest.mark.parametrize("path", ["/metrics", "/healthz", "/readyz"])
async def test_probes_and_metrics_are_not_on_the_public_port(served: ServedUrl, path: str) -> None:
    """The public listener answers 404 for the internal endpoints."""
    status, _ = await _answer("GET", served + path)
    assert status == 404


async def test_internal_port_serves_probes_and_metrics(served: ServedUrl) -> None:
    """The internal listener answers liveness, readiness with each check, and Prometheus text."""
    await _answer("GET", served + "/users/u-1")
    assert await _answer("GET", served.internal + "/healthz") == (200, {"status": "ok"})
    assert await _answer("GET", served.internal + "/readyz") == (
        200,
        {"status": "ready", "checks": {"nothing": "ok"}},
    )
    status, text = await _answer("GET", served.internal + "/metrics")
    assert status == 200
    assert 'calsync_http_requests_total{method="GET",route="/users/{user_id}",status="200"} 1.0' in text
    status, _ = await _answer("GET", served.internal + "/users/u-1")
    assert status == 404


@pytest.mark.parametrize("service", SERVICES)
async def test_each_service_keeps_probes_and_metrics_off_its_public_port(
    service: str, common_config: Callable[..., Any], emulator: Any
) -> None:
    """auth, sync and notifier answer 404 for /metrics, /healthz, /readyz publicly, 200 internally."""
    async with serve(build_app(service, common_config(service), emulator)) as url:
        for path in ("/metrics", "/healthz", "/readyz"):
            assert (await _answer("GET", url + path))[0] == 404, path
            assert (await _answer("GET", url.internal + path))[0] == 200, path


async def test_nul_in_a_user_id_of_the_auth_api_gives_400(
    common_config: Callable[..., Any], emulator: Any, service_token: str
) -> None:
    """auth's connection API refuses a user id with a NUL in the path or the query with a clear 400."""
    async with serve(build_app("auth", common_config("auth"), emulator)) as url:
        headers = {"Authorization": f"Bearer {service_token}"}
        for path in ("/api/v1/users/u%00x/connection", "/api/v1/users/u-1/connection?user=%00"):
            status, body = await _answer("GET", url + path, headers=headers)
            assert status == 400 and body["error"] == "invalid_characters", (path, body)
        status, body = await _answer("GET", url + "/api/v1/users/u-1/connection", headers=headers)
        assert (status, body["state"]) == (200, "none")


async def test_authorization_that_is_not_utf8_gives_401(served: ServedUrl) -> None:
    """An Authorization header with a byte that is not UTF-8 (the token followed by 0xFF) is refused
    with 401 like any wrong token, not answered 500."""
    for value in (b"Bearer " + TOKEN.encode() + b"\xff", b"Bearer \xc3", b"\xff\xfe"):
        answer = await raw_http.send(served, "GET", b"/api/v1/echo", [(b"Authorization", value)])
        assert answer.status == 401 and json.loads(answer.body)["error"] == "service token required", value


async def test_auth_link_body_nested_beyond_the_recursion_limit_gives_400(
    common_config: Callable[..., Any], emulator: Any, service_token: str
) -> None:
    """A link request body nested 20,000 levels deep (40 kB) gets a 400 naming the problem, not a
    500 from the JSON parser's recursion limit; a good request still works."""
    async with serve(build_app("auth", common_config("auth"), emulator)) as url:
        headers = {"Authorization": f"Bearer {service_token}", "Content-Type": "application/json"}
        deep = "[" * 20_000 + "]" * 20_000
        status, body = await _answer("POST", url + "/api/v1/users/u-1/link", data=deep, headers=headers)
        assert status == 400 and body["error"] == "invalid_json", body
        good = {"json": {"locale": "de"}, "headers": {"Authorization": f"Bearer {service_token}"}}
        status, body = await _answer("POST", url + "/api/v1/users/u-1/link", **good)
        assert status == 201, body


async def test_a_quiet_path_logs_only_its_refusals_and_still_counts_every_request() -> None:
    """A high-rate path (Google's pushes in sync) writes no INFO line per answered request; a
    refused one is still logged, and the metric counts both."""
    app = small_app()
    quiet_access_log(app, "/users/quiet")
    with captured_logs("INFO") as logs:
        async with serve(app) as url:
            assert (await _answer("GET", url + "/users/quiet"))[0] == 200
            assert (await _answer("GET", url + "/users/loud"))[0] == 200
            assert (await _answer("GET", url + "/users/quiet?x=%00"))[0] == 400
            _, metrics = await _answer("GET", url.internal + "/metrics")
    lines = [json.loads(line) for line in logs.getvalue().splitlines() if '"http_request"' in line]
    assert [(line["path"], line["status"]) for line in lines] == [("/users/loud", 200), ("/users/quiet", 400)]
    assert 'route="/users/{user_id}",status="200"} 2.0' in metrics
