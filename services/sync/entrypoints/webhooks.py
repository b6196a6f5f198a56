"""Google's push notifications for watched calendars: POST /webhooks/google/calendar (no service
token: Google sends none; the channel's own token authenticates it, docs/sync.md).

Answers: 200 for a notification taken (or ignored: unknown or stopped channel, so Google stops
sending it); 403 for a wrong channel token or resource id (Google does not retry 4xx); 413 for a
declared body over ``MAX_BODY`` bytes (never read: a notification has no body); 503 only when the
channel could not be read, so that Google retries."""

from __future__ import annotations

import asyncpg
import structlog
from aiohttp import web

from services.sync.adapters.metrics import SyncMetrics
from services.sync.usecases import push_receiver

log = structlog.get_logger(__name__)

MAX_BODY = 4096
PATH = "/webhooks/google/calendar"
TRANSIENT = (asyncpg.PostgresError, OSError, TimeoutError)
FORBIDDEN = {
    "error": "channel_mismatch",
    "detail": "the channel token or resource id does not match the channel",
}
TOO_LARGE = {
    "error": "body_too_large",
    "detail": f"a notification has no body; over {MAX_BODY} bytes refused",
}


def routes(
    deps_of: web.AppKey[push_receiver.ReceiverDeps], metrics_of: web.AppKey[SyncMetrics]
) -> list[web.RouteDef]:
    async def notification(request: web.Request) -> web.Response:
        metrics = request.app[metrics_of]
        if (request.content_length or 0) > MAX_BODY:
            metrics.count_push("too_large")
            return web.json_response(TOO_LARGE, status=413)
        headers = request.headers
        note = push_receiver.Notification(
            channel_id=headers.get("X-Goog-Channel-ID", ""),
            token=headers.get("X-Goog-Channel-Token"),
            resource_id=headers.get("X-Goog-Resource-ID"),
            resource_state=headers.get("X-Goog-Resource-State"),
        )
        try:
            verdict = await push_receiver.receive(request.app[deps_of], note)
        except TRANSIENT as exc:
            metrics.count_push("unavailable")
            log.warning("push_not_recorded", error=f"{type(exc).__name__}: {exc}")
            return web.Response(status=503)
        metrics.count_push(verdict)
        if verdict == "forbidden":
            log.warning("push_refused", channel_id=note.channel_id)
            return web.json_response(FORBIDDEN, status=403)
        if verdict in ("unknown", "stopped"):
            log.debug("push_ignored", channel_id=note.channel_id, verdict=verdict)
        return web.Response(status=200)

    return [web.post(PATH, notification)]
