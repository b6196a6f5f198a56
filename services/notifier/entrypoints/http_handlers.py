"""The notifier's public pages: the signed stop-reminders link from every alert and reminder; and
its service API (``/api/v1``, service token checked by shared.web): an operator resends an alert.

``GET /reminders/stop?e=<episode>&sig=<signature>&l=<lang>`` shows a confirmation page (a link
scanner that fetches it changes nothing); ``POST`` to the same URL stops the reminders. The POST is
also the RFC 8058 one-click target named in the ``List-Unsubscribe`` header.
"""

from __future__ import annotations

import uuid

from aiohttp import web

from services.notifier.domain.language import language
from services.notifier.domain.stop_links import stop_signature_valid
from services.notifier.keys import CLOCK, CONFIG, TEMPLATES
from services.notifier.usecases import resend_alert, stop_reminders
from shared.runtime import POOL

STOP_PATH = "/reminders/stop"
PAGE_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"}


def _verified_episode(request: web.Request) -> uuid.UUID | None:
    config = request.app[CONFIG]
    episode, signature = request.query.get("e", ""), request.query.get("sig", "")
    try:
        episode_id = uuid.UUID(episode)
    except ValueError:
        return None
    if not stop_signature_valid(config.link_secret, str(episode_id), signature):
        return None
    return episode_id


def _page(request: web.Request, state: str, status: int = 200) -> web.Response:
    lang = language(request.query.get("l"))
    html = request.app[TEMPLATES].render_page(
        lang, state=state, product=request.app[CONFIG].product_name, action=str(request.rel_url)
    )
    return web.Response(text=html, content_type="text/html", status=status, headers=PAGE_HEADERS)


async def stop_reminders_page(request: web.Request) -> web.Response:
    if _verified_episode(request) is None:
        return _page(request, "invalid", 400)
    return _page(request, "confirm")


async def stop_reminders_post(request: web.Request) -> web.Response:
    episode_id = _verified_episode(request)
    if episode_id is None:
        return _page(request, "invalid", 400)
    await stop_reminders.stop_reminders(request.app[POOL], episode_id, clock=request.app[CLOCK])
    return _page(request, "done")


def add_routes(app: web.Application) -> None:
    app.router.add_get(STOP_PATH, stop_reminders_page)
    app.router.add_post(STOP_PATH, stop_reminders_post)
    app.router.add_post("/api/v1/users/{user_id}/alert", resend_alert_post)


MAX_USER_ID = 200


async def resend_alert_post(request: web.Request) -> web.Response:
    """Send the user's open alert again: 202 ``{"user_id", "episode_id", "reason", "subject"}``, or
    404 ``no_open_problem``."""
    user_id = request.match_info["user_id"]
    if not 1 <= len(user_id) <= MAX_USER_ID:
        return web.json_response(
            {"error": "invalid_id", "detail": "user_id must be 1 to 200 characters"}, status=400
        )
    queued = await resend_alert.resend(request.app[POOL], request.app[CLOCK], user_id)
    if queued is None:
        return web.json_response(
            {"error": "no_open_problem", "detail": "the user's connection and calendar have no open problem"},
            status=404,
        )
    return web.json_response(queued, status=202)
