"""HTTP entry points of auth for people: the settings page behind signed links, delete with
confirmation (usecases/connection.py), the connection test (usecases/connection_test.py), and the
OAuth round trip with Google (usecases/connect.py).
The JSON API is in ``api_handlers``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from services.auth.adapters.links import LinkClaims
from services.auth.entrypoints import calendar_page, connection_test_page, pages, websession
from services.auth.entrypoints.websession import PageError, see_other
from services.auth.keys import CONNECTION, REVOKE_WAKE
from services.auth.usecases import connect, connection

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
NOTICES = ("deleted", "nothing_to_delete")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/settings", _pages(settings_page))
    app.router.add_post("/settings/switch", _pages(websession.switch_submit))
    app.router.add_get("/settings/delete", _pages(delete_page))
    app.router.add_post("/settings/delete", _pages(delete_submit))
    app.router.add_post("/settings/calendar", _pages(calendar_page.choose))
    app.router.add_post("/settings/connection-test", _pages(connection_test_submit))
    app.router.add_post("/oauth/start", _pages(oauth_start))
    app.router.add_get("/oauth/callback", _pages(oauth_callback))


def _pages(handler: Handler) -> Handler:
    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except PageError as stop:
            return stop.response

    return wrapped


def _after_commit(request: web.Request) -> None:
    """A revocation may have been queued: the revocation job tries it now (the outbox wakes itself)."""
    request.app[REVOKE_WAKE].set()


async def settings_page(request: web.Request) -> web.StreamResponse:
    """GET /settings?token=<link> starts a session; GET /settings shows the connection."""
    if "token" in request.query:
        return websession.open_link(request, request.query["token"])
    claims = websession.session(request)
    notice = request.query.get("done")
    return await _settings(request, claims, notice=notice if notice in NOTICES else None)


async def _settings(
    request: web.Request,
    claims: LinkClaims,
    *,
    notice: str | None = None,
    tested: connection_test_page.ResultView | None = None,
) -> web.Response:
    async with request.app[CONNECTION].pool.acquire() as conn:
        status = await connection.status(conn, claims.user_id)
    return pages.settings(
        status,
        account=claims.account,
        locale=claims.locale,
        csrf=claims.nonce,
        notice=notice,
        google_auth_url=request.app[CONNECTION].config.google.auth_url,
        calendar=await calendar_page.view(request, claims.user_id, status, claims.locale),
        tested=tested,
    )


async def connection_test_submit(request: web.Request) -> web.StreamResponse:
    """POST /settings/connection-test (CSRF-checked): run the test, then the page with its results
    (the state shown is the one after the test: a dead grant found by it shows as disconnected)."""
    claims, _ = await websession.checked_form(request)
    report = await connection_test_page.run(request, claims.user_id)
    return await _settings(request, claims, tested=connection_test_page.view(report, claims.locale))


async def delete_page(request: web.Request) -> web.StreamResponse:
    """GET /settings/delete: ask for confirmation (a required checkbox)."""
    claims = websession.session(request)
    async with request.app[CONNECTION].pool.acquire() as conn:
        status = await connection.status(conn, claims.user_id)
    if status.state == "none":
        return see_other("/settings?done=nothing_to_delete")
    return pages.confirm_delete(status, locale=claims.locale, csrf=claims.nonce)


async def delete_submit(request: web.Request) -> web.StreamResponse:
    """POST /settings/delete: delete when the box is ticked, then back to the settings page."""
    claims, form = await websession.checked_form(request)
    if form.get("confirm") != "yes":
        async with request.app[CONNECTION].pool.acquire() as conn:
            status = await connection.status(conn, claims.user_id)
        return pages.confirm_delete(status, locale=claims.locale, csrf=claims.nonce, unconfirmed=True)
    deleted = await connection.delete_connection(request.app[CONNECTION], claims.user_id)
    if deleted is None:
        return see_other("/settings?done=nothing_to_delete")
    _after_commit(request)
    return see_other("/settings?done=deleted")


async def oauth_start(request: web.Request) -> web.StreamResponse:
    """POST /oauth/start (Connect / Reconnect): to Google's consent screen."""
    claims, _ = await websession.checked_form(request)
    deps = request.app[CONNECTION]
    async with deps.pool.acquire() as conn:
        started = await connect.start(
            conn,
            user_id=claims.user_id,
            locale=claims.locale,
            browser_value=request.cookies.get(websession.BROWSER_COOKIE),
            config=deps.config,
            cipher=deps.cipher,
            clock=deps.clock,
        )
    response = see_other(started.url)
    websession.bind_browser(response, request, started.browser_value)
    return response


async def oauth_callback(request: web.Request) -> web.StreamResponse:
    """GET /oauth/callback: Google's redirect; the result page says what happened."""
    outcome = await connect.finish(
        request.app[CONNECTION], request.query, browser_value=request.cookies.get(websession.BROWSER_COOKIE)
    )
    if outcome.kind in ("connected", "reconnected"):
        _after_commit(request)
    return pages.result(outcome, fallback_locale=websession.guess_locale(request))
