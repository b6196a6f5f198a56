"""The sync outbound benchmark (``make bench``) in a short form, so its code cannot rot: the same
processes (emulator, sync, the bare floor) and measurements on a few appointments; no figure is
asserted, only that every appointment arrived."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from devtools.bench.sync_outbound import Settings, measure, table


@pytest.mark.timeout(120)
async def test_a_short_sync_benchmark_delivers_every_appointment_once_each_way(
    record_property: Callable[[str, object], None],
) -> None:
    """Through sync and through the floor, every one of 100 appointments for 5 users reaches Google
    exactly once, and the table reports both sides."""
    began = time.perf_counter()
    figures = await measure(Settings(events=100, users=5, workers=10, db_pool=6, results=None))
    for side in ("ours", "floor"):
        assert figures[side]["missing"] == 0 and figures[side]["duplicates"] == 0, figures[side]
        assert figures[side]["events_per_second"] > 0 and figures[side]["peak_rss_mb"] > 0
    assert "ratio ours / floor" in table(figures)
    record_property("bench smoke seconds", round(time.perf_counter() - began, 1))
