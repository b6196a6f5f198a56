"""The internal JSON API (``/api/v1``, service token checked by shared.web): mint settings links,
read a user's connection status, list connections by state and reason, delete a connection, test it
live (usecases/connection_test.py), re-encrypt stored secrets under the newest key, and the disconnect
circuit breaker's status and reset for operators (usecases/connection.py, usecases/breaker.py)."""

from __future__ import annotations

from typing import Any

import structlog
from aiohttp import web

from services.auth.adapters import links
from services.auth.entrypoints.connection_test_texts import sentence
from services.auth.keys import CONNECTION, GRANT_LOCKS, REFRESH, REVOKE_WAKE, SYNC_API
from services.auth.usecases import breaker, connection, connection_test, rotate_keys
from shared.web import read_json

log = structlog.get_logger(__name__)


def add_routes(app: web.Application) -> None:
    app.router.add_post("/api/v1/users/{user_id}/link", create_link)
    app.router.add_get("/api/v1/users/{user_id}/connection", get_connection)
    app.router.add_delete("/api/v1/users/{user_id}/connection", delete_connection)
    app.router.add_get("/api/v1/connections", list_connections)
    app.router.add_post("/api/v1/users/{user_id}/connection/test", test_connection)
    app.router.add_get("/api/v1/breaker", breaker_status)
    app.router.add_post("/api/v1/breaker/reset", breaker_reset)
    app.router.add_post("/api/v1/keys/rotate", rotate_token_keys)


MAX_DISPLAY_NAME = 100


def _plain_name(value: object) -> bool:
    """A display name the pages can show: text, not blank, not too long, no control characters."""
    return (
        isinstance(value, str)
        and 0 < len(value.strip()) <= MAX_DISPLAY_NAME
        and all(char.isprintable() for char in value)
    )


def _bad_request(detail: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(text=f'{{"error": "{detail}"}}', content_type="application/json")


async def _json_body(request: web.Request) -> dict[str, Any]:
    """The body as a JSON object (``{}`` when there is none); 400 if too large, too deep or not JSON."""
    if not request.can_read_body:
        return {}
    body = await read_json(request)  # bounded: size, depth (no RecursionError), UTF-8, no NUL
    if not isinstance(body, dict):
        raise _bad_request("body must be a JSON object")
    return body


async def create_link(request: web.Request) -> web.Response:
    """``{"locale": "de"|"en", "ttl_seconds"?: int, "display_name"?: str}`` -> 201 ``{"url", "expires_at"}``."""
    config = request.app[CONNECTION].config
    body = await _json_body(request)
    locale = body.get("locale", "en")
    ttl = body.get("ttl_seconds")
    display_name = body.get("display_name")
    if locale not in links.LOCALES:
        raise _bad_request("locale must be 'de' or 'en'")
    if display_name is not None and not _plain_name(display_name):
        raise _bad_request(f"display_name must be text of 1 to {MAX_DISPLAY_NAME} printable characters")
    if ttl is not None and (
        not isinstance(ttl, int) or isinstance(ttl, bool) or not 60 <= ttl <= config.link_max_ttl
    ):
        raise _bad_request(f"ttl_seconds must be a whole number from 60 to {config.link_max_ttl}")
    link = connection.settings_link(
        config,
        user_id=request.match_info["user_id"],
        locale=locale,
        ttl=ttl,
        now=request.app[CONNECTION].clock.now(),
        display_name=display_name.strip() if display_name is not None else None,
    )
    return web.json_response({"url": link.url, "expires_at": link.expires_at.isoformat()}, status=201)


async def get_connection(request: web.Request) -> web.Response:
    """-> ``{"state", "reason", "since", "google_email"}``; state ``none`` when never connected."""
    async with request.app[CONNECTION].pool.acquire() as conn:
        result = await connection.status(conn, request.match_info["user_id"])
    return web.json_response(result.as_json())


STATES = ("connected", "disconnected", "suspended")
MAX_LIST = 1000


async def list_connections(request: web.Request) -> web.Response:
    """``?state=&reason=&limit=`` -> ``{"connections": [{"user_id", "state", "reason", "since", "google_email"}]}``."""
    query = request.query
    state, reason = query.get("state") or None, query.get("reason") or None
    if state is not None and state not in STATES:
        raise _bad_request("state must be connected, disconnected or suspended")
    if reason is not None and len(reason) > MAX_DISPLAY_NAME:
        raise _bad_request(f"reason must be at most {MAX_DISPLAY_NAME} characters")
    limit_text = query.get("limit", "100")
    if not (limit_text.isascii() and limit_text.isdigit()) or not 1 <= int(limit_text) <= MAX_LIST:
        raise _bad_request(f"limit must be a whole number from 1 to {MAX_LIST}")
    async with request.app[CONNECTION].pool.acquire() as conn:
        rows = await connection.listing(conn, state=state, reason=reason, limit=int(limit_text))
    return web.json_response({"connections": rows})


async def delete_connection(request: web.Request) -> web.Response:
    """Delete the user's connection (as the settings page's Delete does): 204, or 404 if none."""
    grant_id = await connection.delete_connection(request.app[CONNECTION], request.match_info["user_id"])
    if grant_id is None:
        raise web.HTTPNotFound(text='{"error": "no connection"}', content_type="application/json")
    request.app[REVOKE_WAKE].set()  # the revocation job tries the queued revoke now
    return web.Response(status=204)


async def test_connection(request: web.Request) -> web.Response:
    """``{"locale"?: "de"|"en"}`` -> ``{"user_id", "ok", "calendar_id", "steps": [...]}``, each step
    ``{"step", "status", "code", "message"}`` (the message in plain words, in ``locale``)."""
    body = await _json_body(request)
    locale = body.get("locale", "en")
    if locale not in links.LOCALES:
        raise _bad_request("locale must be 'de' or 'en'")
    user_id, app = request.match_info["user_id"], request.app
    report = await connection_test.run(app[REFRESH], app[GRANT_LOCKS], app[SYNC_API], user_id)
    steps = [
        {"step": s.name, "status": s.status, "code": s.code, "message": sentence(s, report, locale)}
        for s in report.steps
    ]
    return web.json_response(
        {"user_id": user_id, "ok": report.ok, "calendar_id": report.calendar_id, "steps": steps}
    )


async def breaker_status(request: web.Request) -> web.Response:
    """-> ``{"open", "incident_id", "held_grants"}``."""
    async with request.app[CONNECTION].pool.acquire() as conn:
        return web.json_response(await breaker.status(conn))


async def breaker_reset(request: web.Request) -> web.Response:
    """An operator closes the disconnect circuit breaker -> ``{"closed_incident", ...status}``."""
    deps = request.app[CONNECTION]
    result = await breaker.reset_and_report(deps.pool, deps.outbox, deps.clock.now())
    return web.json_response(result)


async def rotate_token_keys(request: web.Request) -> web.Response:
    """Re-encrypt every stored secret under this instance's newest ``TOKEN_KEYS`` key (as
    rotate_keys_command does) -> ``{"key_id", "values_reencrypted"}``; 0 means nothing is left under
    an older key."""
    deps = request.app[CONNECTION]
    changed = await rotate_keys.rotate(deps.pool, deps.cipher)
    return web.json_response({"key_id": deps.cipher.current_kid, "values_reencrypted": changed})
