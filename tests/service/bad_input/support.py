"""What the bad-input properties share: the hypothesis settings, running a property in a worker
thread while the services keep serving on the test's event loop, and the checks on a refusal."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from hypothesis import HealthCheck, Phase, settings

T = TypeVar("T")

# Derandomized and bounded: the same examples on every run, quick enough for `make test` on a busy machine.
BATCH = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=25,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=False,
)
# A bus batch that fails costs seconds of waiting per replay: report the first failing batch as it
# was generated instead of shrinking it (the reasons printed name each message's problem).
BUS_BATCH = settings(BATCH, phases=[Phase.explicit, Phase.generate])
JSON_OR_HTML = ("application/json", "text/html")
# aiohttp answers these itself, before any handler runs (request line or headers too large).
PROTOCOL_REFUSALS = (400, 413, 414, 431)


class OnLoop:
    """Runs coroutines on the test's event loop from the thread that runs a property."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()

    def __call__(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)


async def run_property(prop: Callable[[], None]) -> None:
    """Run a hypothesis property (a plain function) in a worker thread, so the services it talks to
    keep running on this event loop; its failures are raised here."""
    await asyncio.to_thread(prop)


def assert_clear_refusal(status: int, content_type: str, body: str, *, allowed: tuple[int, ...] = ()) -> None:
    """A 4xx (or one of ``allowed``) with a JSON or HTML message and no traceback."""
    assert 400 <= status < 500 or status in allowed, (status, body[:300])
    assert "Traceback" not in body and 'File "' not in body, body[:300]
    if status in PROTOCOL_REFUSALS and not content_type.startswith(JSON_OR_HTML):
        return  # aiohttp's own refusal of an oversized request line or header: plain text, no detail
    assert content_type.startswith(JSON_OR_HTML), (status, content_type, body[:300])
    if content_type.startswith("application/json"):
        data = json.loads(body)
        assert isinstance(data, dict) and (data.get("error") or data.get("err")), body[:300]
    else:
        assert body.strip(), "an empty HTML refusal"
