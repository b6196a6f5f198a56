"""The ``make bench`` report: each benchmark's headline beside its bare baseline with the ratio and
the aim, the soak's memory verdict, and the two plots."""

from __future__ import annotations

import json
from pathlib import Path

from devtools.bench import _report

DAY = "2030-01-02"


def _figures(directory: Path) -> None:
    written = {
        "auth-refresh": {"ours": {"rate": 300.0}, "bare": {"rate": 350.0}},
        "sync-webhook": {
            "ours": {"requests_per_second": 2000.0, "p50_ms": 4.0, "p99_ms": 15.0},
            "bare": {"requests_per_second": 5000.0, "p50_ms": 2.0, "p99_ms": 6.0},
        },
        "soak": {"memory_growth": 0.012, "flat": True, "settings": {"seconds": 600.0}},
    }
    for stem, figures in written.items():
        (directory / f"{DAY}-{stem}.json").write_text(json.dumps(figures))


def test_the_report_puts_each_figure_beside_its_baseline_and_plots_them(tmp_path: Path) -> None:
    _figures(tmp_path)
    report = _report.write(tmp_path, DAY)
    assert report is not None
    text = report.read_text()
    assert "| auth refresh storm | 300 refreshes/s | 350 | 0.86 | ≥ 0.7 met |" in text
    assert "| sync webhook | 2000 requests/s | 5000 | 0.4 | ≥ 0.5 MISSED | 4 / 2 ms | 15 / 6 ms |" in text
    assert "sync outbound" not in text  # it did not run that day
    assert "Soak: memory growth +1.2% over 600.0 s (flat)" in text
    for plot in ("throughput", "latency"):
        assert (tmp_path / f"{DAY}-{plot}.png").stat().st_size > 1000


def test_no_report_without_figures(tmp_path: Path) -> None:
    assert _report.write(tmp_path, DAY) is None
