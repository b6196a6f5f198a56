"""The scheduled job: delivery loops that send due emails (alerts, reminders, heads-ups, operator
alerts). Each turn calls one use case, ``send_due.deliver_one``; started by ``app.create_app``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid

import structlog

from services.notifier.usecases import send_due

log = structlog.get_logger(__name__)


class DeliveryWorker:
    """Runs ``DELIVERY_CONCURRENCY`` loops (``run``) over one set of dependencies until ``stop``."""

    def __init__(self, deps: send_due.DeliveryDeps, *, poll_interval: float) -> None:
        self.deps = deps
        self.poll_interval = poll_interval
        self.name = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._wake = asyncio.Event()
        self._stopping = False

    def stop(self) -> None:
        """Let every ``run`` loop finish its current job and return."""
        self._stopping = True
        self._wake.set()

    async def refresh_gauge(self) -> None:
        await send_due.refresh_gauge(self.deps)

    async def run(self) -> None:
        """Deliver due jobs forever; idle for the poll interval when nothing is due."""
        loop = asyncio.get_running_loop()
        next_gauge = 0.0
        task = asyncio.current_task()
        # A cancellation can be lost on Python 3.11 when it coincides with a timeout (asyncio.timeout
        # and wait_for both convert it); ``stop()`` and the cancelling() check end the loop regardless.
        while not self._stopping and not (task is not None and task.cancelling()):
            try:
                if loop.time() >= next_gauge:
                    await self.refresh_gauge()
                    next_gauge = loop.time() + 10.0
                if await send_due.deliver_one(self.deps, worker=self.name):
                    continue
            except Exception:  # a bug or the database is away: keep the loop alive
                log.exception("delivery_loop_failed")
            if self._stopping:
                break
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_interval):
                    await self._wake.wait()
