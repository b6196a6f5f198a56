"""The fault-injection run of ``make chaos`` in its short form (devtools/chaos): 500 appointment
events for 20 users flow through the three-node RabbitMQ cluster (brought up for the test if it is
not running), auth, sync and notifier as processes, and the Google emulator, while each service is
killed with SIGKILL once, a broker node is killed, PostgreSQL (a throwaway instance) restarts, Google
fails a fifth of the Calendar calls, two grants die at Google and malformed messages arrive.
Afterwards every check of the report holds."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from devtools.chaos.postgres import BIN_DIR
from devtools.chaos.run import Settings, chaos, report

RABBITMQ = Path(os.environ.get("RABBITMQ_BIN_DIR", "/usr/lib/rabbitmq/bin")) / "rabbitmq-server"


@pytest.mark.skipif(
    not RABBITMQ.exists() or not (BIN_DIR / "initdb").exists(),
    reason=f"needs RabbitMQ ({RABBITMQ}) and PostgreSQL ({BIN_DIR}) installed on this machine",
)
@pytest.mark.timeout(240)
async def test_after_one_fault_of_each_kind_every_appointment_and_alert_arrives_once(
    record_property: Callable[[str, object], None],
) -> None:
    """Every appointment's latest version is in Google once, each disconnected user got one alert,
    no message is stuck, and only the malformed messages are dead-lettered."""
    began = time.perf_counter()
    outcome = await chaos(Settings.short())
    record_property("chaos short form seconds", round(time.perf_counter() - began, 1))
    assert outcome.ok, report(outcome)
