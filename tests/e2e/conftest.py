"""End-to-end test reporting: the latencies the tests measure (``record_property("latency: ...")``)
are listed at the end of every run, so a plain ``make test`` shows them."""

from __future__ import annotations

import pytest

LATENCY = "latency: "


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    rows = [
        (report.nodeid.rpartition("::")[2], name.removeprefix(LATENCY), value)
        for reports in terminalreporter.stats.values()
        for report in reports
        if isinstance(report, pytest.TestReport) and report.when == "call"
        for name, value in report.user_properties
        if name.startswith(LATENCY)
    ]
    if rows:
        terminalreporter.section("end-to-end latency")
        for test, name, value in rows:
            terminalreporter.write_line(f"{name}: {value}  ({test})")
