"""The demo's timeline: each step runs under its own time limit, waits on what it can observe (never a
blind sleep) and prints one line with the elapsed time, ✓ or ✗, and what it checked."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import NoReturn, TextIO, TypeVar

import aio_pika
import aiohttp

T = TypeVar("T")
POLL_SECONDS = 0.2


class NotYet(Exception):
    """A check saw something other than what it waits for; the message says what it saw."""


class DemoFailed(Exception):
    """The story stopped at a failed check; the message says which and why."""


@dataclass
class Step:
    """A running step: ``until`` polls a check until it passes or the step's time is up."""

    deadline: float

    async def until(self, check: Callable[[], Awaitable[T]]) -> T:
        last = "nothing observed yet"
        while True:
            try:
                return await check()
            except NotYet as exc:
                last = str(exc)
            if time.monotonic() >= self.deadline:
                raise NotYet(f"still waiting when the time was up: {last}")
            await asyncio.sleep(POLL_SECONDS)  # polling an observable effect


@dataclass
class Timeline:
    """Prints each step as it ends; ``passed`` lists the titles checked so far."""

    out: TextIO = field(default_factory=lambda: sys.stdout)
    began: float = field(default_factory=time.monotonic)
    passed: list[str] = field(default_factory=list)

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def _line(self, mark: str, number: int, title: str, detail: str) -> None:
        elapsed = time.monotonic() - self.began
        self.say(f"{elapsed:7.1f} s  {mark} {number:2d}. {title}\n{'':14}{detail}")

    async def step(
        self, number: int, title: str, action: Callable[[Step], Awaitable[str]], *, timeout: float = 30.0
    ) -> None:
        """Run ``action`` (it returns what it checked); a failure or timeout ends the demo."""
        step = Step(time.monotonic() + timeout)
        try:
            async with asyncio.timeout(timeout + 5):  # a hung call, not a slow effect
                detail = await action(step)
        except (NotYet, DemoFailed, AssertionError) as exc:
            self._fail(number, title, str(exc))
        except TimeoutError:
            self._fail(number, title, f"no answer within {timeout + 5:.0f} s")
        except aiohttp.ClientError as exc:
            self._fail(number, title, f"HTTP call failed: {type(exc).__name__}: {exc}")
        except (aio_pika.exceptions.AMQPError, OSError) as exc:  # RabbitMQ refused or lost a publish
            self._fail(number, title, f"RabbitMQ: {type(exc).__name__}: {exc}")
        self._line("✓", number, title, detail)
        self.passed.append(title)

    def _fail(self, number: int, title: str, why: str) -> NoReturn:
        self._line("✗", number, title, why)
        raise DemoFailed(f"step {number} ({title}) failed: {why}")
