"""End-to-end fixtures and reporting: ``start_chain`` starts auth and the notifier with a user
connected; the latencies the tests measure (``record_property("latency: ...")``) are listed at the
end of every run, so a plain ``make test`` shows them."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import asyncpg
import pytest

from shared.amqp import Broker
from shared.config import CommonConfig, GoogleConfig
from tests.e2e.support import StartChain, chain


@pytest.fixture
def start_chain(
    common_config: Callable[..., CommonConfig],
    google_config: GoogleConfig,
    emulator: Any,
    broker: Broker,
    clean_db: asyncpg.Pool,
) -> StartChain:
    """``start_chain(**auth_changes)``: ``support.chain`` on this test's emulator, broker and database."""
    return functools.partial(chain, common_config, google_config, emulator, broker, clean_db)


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
