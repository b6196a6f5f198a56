"""The settings page's browser session and the OAuth browser-binding cookie.

Opening a signed link sets a short session cookie (itself a signed token, purpose "session") and
redirects to the bare /settings URL, so the link leaves the address bar and history. A link for
another platform user than the browser's current session asks before switching (``/settings/switch``),
so nobody is silently moved into someone else's settings. Forms carry
the session's random nonce as CSRF token; cookies are HttpOnly, SameSite=Lax and Secure in production.
"""

from __future__ import annotations

import hmac
from datetime import timedelta

import structlog
from aiohttp import web

from services.auth.adapters import links
from services.auth.entrypoints import pages
from services.auth.keys import CLOCK, CONFIG

log = structlog.get_logger(__name__)

SESSION_COOKIE = "calsync_settings"
BROWSER_COOKIE = "calsync_oauth"


class PageError(Exception):
    """Stop with an error page (handlers turn it into the response)."""

    def __init__(self, response: web.Response) -> None:
        super().__init__(response.status)
        self.response = response


def see_other(location: str) -> web.Response:
    """A 303 redirect (returned, not raised, so cookies set on it are kept)."""
    return web.Response(status=303, headers={"Location": location})


def guess_locale(request: web.Request) -> str:
    """For pages shown before we know the user's locale: German if the browser prefers it."""
    accept = request.headers.get("Accept-Language", "").lower()
    first = accept.split(",")[0].strip()
    return "de" if first.startswith("de") else "en"


def _set_cookie(
    response: web.StreamResponse, request: web.Request, name: str, value: str, *, path: str, max_age: int
) -> None:
    response.set_cookie(
        name,
        value,
        path=path,
        max_age=max_age,
        httponly=True,
        samesite="Lax",
        secure=request.app[CONFIG].common.production,
    )


def open_link(request: web.Request, token: str) -> web.StreamResponse:
    """Check a settings link; start a session and redirect to /settings, or, if this browser has a
    session for another platform user, ask before switching."""
    claims = _link(request, token)
    current = _current_session(request)
    if current is not None and current.user_id != claims.user_id:
        log.info("settings_switch_asked", user_id=current.user_id, link_user_id=claims.user_id)
        return pages.confirm_switch(
            current=current.account,
            incoming=claims.account,
            token=token,
            csrf=current.nonce,
            locale=claims.locale,
        )
    return start_session(request, claims)


async def switch_submit(request: web.Request) -> web.StreamResponse:
    """POST /settings/switch: the user confirmed opening the link for another platform account."""
    current, form = await checked_form(request)
    claims = _link(request, form.get("token", ""))
    log.info("settings_switched", user_id=current.user_id, link_user_id=claims.user_id)
    return start_session(request, claims)


def _link(request: web.Request, token: str) -> links.LinkClaims:
    """The claims of a genuine, unexpired settings link, or an error page."""
    config, now = request.app[CONFIG], request.app[CLOCK].now()
    try:
        return links.verify(config.link_secret, links.SETTINGS, token, now=now)
    except links.LinkExpired:
        log.info("settings_link_refused", why="expired")
        raise PageError(pages.error("expired", locale=guess_locale(request), status=410)) from None
    except links.LinkInvalid:
        log.warning("settings_link_refused", why="invalid")
        raise PageError(pages.error("forged", locale=guess_locale(request), status=403)) from None


def start_session(request: web.Request, claims: links.LinkClaims) -> web.StreamResponse:
    """A fresh session for the link's user (and its display name), then to /settings."""
    config, now = request.app[CONFIG], request.app[CLOCK].now()
    session = links.mint(
        config.link_secret,
        links.SESSION,
        user_id=claims.user_id,
        locale=claims.locale,
        expires_at=now + timedelta(seconds=config.session_ttl),
        display_name=claims.display_name,
    )
    response = see_other("/settings")
    _set_cookie(response, request, SESSION_COOKIE, session, path="/", max_age=config.session_ttl)
    log.info("settings_link_opened", user_id=claims.user_id, locale=claims.locale)
    return response


def _current_session(request: web.Request) -> links.LinkClaims | None:
    """This browser's valid session, if it has one."""
    token = request.cookies.get(SESSION_COOKIE, "")
    if not token:
        return None
    try:
        return links.verify(
            request.app[CONFIG].link_secret, links.SESSION, token, now=request.app[CLOCK].now()
        )
    except (links.LinkInvalid, links.LinkExpired):
        return None


def session(request: web.Request) -> links.LinkClaims:
    """The current session's claims, or an error page (no session, or it expired)."""
    config = request.app[CONFIG]
    token = request.cookies.get(SESSION_COOKIE, "")
    try:
        return links.verify(config.link_secret, links.SESSION, token, now=request.app[CLOCK].now())
    except (links.LinkInvalid, links.LinkExpired):
        log.info("settings_session_missing", had_cookie=bool(token))
        raise PageError(pages.error("session", locale=guess_locale(request), status=403)) from None


async def checked_form(request: web.Request) -> tuple[links.LinkClaims, dict[str, str]]:
    """A POSTed form's session and fields, after the CSRF check."""
    claims = session(request)
    form = {k: str(v) for k, v in (await request.post()).items()}
    if not hmac.compare_digest(form.get("csrf", ""), claims.nonce):
        log.warning("settings_form_refused", user_id=claims.user_id, why="csrf")
        raise PageError(pages.error("csrf", locale=claims.locale, status=403))
    return claims, form


def bind_browser(response: web.StreamResponse, request: web.Request, value: str) -> None:
    config = request.app[CONFIG]
    _set_cookie(response, request, BROWSER_COOKIE, value, path="/oauth", max_age=config.state_ttl)
