"""The soak (``make soak``) in a short form, so its code cannot rot: the same processes, load and
samples for a few seconds; it asserts that every appointment reached its final state in Google and
that the report and its plot are written, not that memory is flat (that takes minutes)."""

from __future__ import annotations

from pathlib import Path

import pytest

from devtools.soak import Settings, measure, write


@pytest.mark.timeout(180)
async def test_a_short_soak_samples_the_service_and_loses_nothing(tmp_path: Path) -> None:
    figures = await measure(Settings(seconds=8, rate=10, sample_seconds=1, users=3, results=None))
    assert figures["not_in_final_state"] == 0 and figures["appointments"] >= 10, figures["appointments"]
    assert len(figures["samples"]) >= 5 and figures["rss_mb"]["min"] > 0
    assert figures["max"]["db_connections"] >= 1 and figures["max"]["amqp_connections"] >= 1
    report = write(figures, tmp_path)
    assert "memory growth" in report.read_text() and report.with_suffix(".png").stat().st_size > 1000
