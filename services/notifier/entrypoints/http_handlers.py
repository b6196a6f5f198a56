"""The notifier's public pages: the signed stop-reminders link from every alert and reminder.

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
from services.notifier.usecases import stop_reminders
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
