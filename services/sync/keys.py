"""Every ``web.AppKey`` of the sync service."""

from __future__ import annotations

from aiohttp import web

from services.sync.adapters.metrics import SyncMetrics
from services.sync.config import SyncConfig
from services.sync.entrypoints.jobs import Writer
from services.sync.usecases.calendars import ChoiceDeps
from services.sync.usecases.connection_test import ProbeDeps
from services.sync.usecases.push_receiver import ReceiverDeps
from shared.clock import Clock
from shared.outbox import Outbox

CONFIG = web.AppKey("sync_config", SyncConfig)
CLOCK = web.AppKey("sync_clock", Clock)
WRITER = web.AppKey("sync_writer", Writer)
OUTBOX = web.AppKey("sync_outbox", Outbox)
CHOICE = web.AppKey("sync_calendar_choice", ChoiceDeps)
PROBE = web.AppKey("sync_connection_test", ProbeDeps)
RECEIVER = web.AppKey("sync_push_receiver", ReceiverDeps)
METRICS = web.AppKey("sync_metrics", SyncMetrics)
