"""Every ``web.AppKey`` of the notifier (the shared pool, broker, relay and HTTP keys live in
``shared.runtime``); set in ``app.create_app``, read by the entrypoints and the composition root."""

from __future__ import annotations

from aiohttp import web

from services.notifier.adapters.rendering import Templates
from services.notifier.config import NotifierConfig
from services.notifier.entrypoints.jobs import DeliveryWorker
from shared.clock import Clock
from shared.outbox import Outbox

CONFIG = web.AppKey("notifier_config", NotifierConfig)
CLOCK = web.AppKey("clock", Clock)
TEMPLATES = web.AppKey("templates", Templates)
OUTBOX = web.AppKey("outbox", Outbox)
WORKER = web.AppKey("delivery_worker", DeliveryWorker)
