"""``make demo``'s timeline and start: a step that never sees its effect ends the demo with ✗ and
what it last saw; with nothing running the demo says to start ``make run``."""

from __future__ import annotations

import io

import aiohttp
import pytest

from devtools.demo.clients import Targets, check_reachable
from devtools.demo.timeline import DemoFailed, NotYet, Step, Timeline
from devtools.localrun import Ports
from tests.support.service_process import free_port


async def test_a_step_that_never_sees_its_effect_fails_with_what_it_saw() -> None:
    """The step's check keeps seeing the wrong state: ✗, the step named, the last observation said."""
    out = io.StringIO()
    timeline = Timeline(out=out)

    async def never(step: Step) -> str:
        async def check() -> str:
            raise NotYet("auth says connected")

        return await step.until(check)

    async def fine(_step: Step) -> str:
        return "checked"

    await timeline.step(1, "first", fine, timeout=1)
    with pytest.raises(DemoFailed, match=r"step 2 \(auth disconnects\) failed: .*auth says connected"):
        await timeline.step(2, "auth disconnects", never, timeout=0.3)
    assert timeline.passed == ["first"]
    lines = out.getvalue()
    assert "✓  1. first" in lines and "✗  2. auth disconnects" in lines


async def test_with_nothing_running_the_demo_says_to_start_make_run() -> None:
    """No program on the ports: the first unreachable one is named, with `make run` as the remedy."""
    closed = free_port()
    ports = Ports(auth=closed, sync=closed, notifier=closed, google=closed, smtp=closed, mail=closed)
    settings = {"SERVICE_TOKEN": "t", "AMQP_URL_PLATFORM": "amqp://p:p@127.0.0.1/", "AMQP_URL": "amqp://g@h/"}
    targets = Targets.from_settings(settings, ports)
    async with aiohttp.ClientSession() as http:
        with pytest.raises(DemoFailed, match=r"auth is not reachable at .*: start `make run` first"):
            await check_reachable(http, targets)


def test_missing_settings_are_named() -> None:
    """Without the service token and broker URLs the demo names what deploy/env.local should set."""
    with pytest.raises(DemoFailed, match="SERVICE_TOKEN, AMQP_URL_PLATFORM, AMQP_URL"):
        Targets.from_settings({})
