"""The webhook benchmark (``make bench``) in a short form, so its code cannot rot: the same
processes (emulator, sync with real watch channels, the bare app) and measurements with a one
second wrk run and a burst of 200 notifications; no figure is asserted, only that every
notification was answered 200 and the burst was coalesced into far fewer events.list calls."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable

import pytest

from devtools.bench.webhook import Settings, measure, table

WRK = shutil.which("wrk")


@pytest.mark.skipif(
    WRK is None, reason="wrk is not installed (scripts/ensure-wrk.sh or apt-get install -y wrk)"
)
@pytest.mark.timeout(120)
async def test_a_short_webhook_benchmark_answers_every_notification_and_coalesces_the_burst(
    record_property: Callable[[str, object], None],
) -> None:
    """sync and the bare app answer every wrk request 200; 200 notifications for 3 calendars cost
    fewer events.list calls than notifications, and the table reports both sides."""
    assert WRK is not None
    began = time.perf_counter()
    figures = await measure(
        Settings(duration="1s", rounds=1, connections=8, burst=200, calendars=3, results=None), WRK
    )
    for side in ("ours", "bare"):
        assert figures[side]["requests"] > 0 and figures[side]["non_2xx"] == 0, figures[side]
    burst = figures["burst"]
    # wrk stops once the count is reached; requests already in flight then still arrive
    assert burst["answered_200"] == burst["notifications"] >= 200, burst
    assert burst["events_list_calls"] < 200, burst
    assert "ratio sync / bare" in table(figures)
    record_property("webhook bench smoke seconds", round(time.perf_counter() - began, 1))
