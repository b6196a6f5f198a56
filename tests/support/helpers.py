"""Test helpers: wait on observable effects, run apps on real ports, watch the bus.

Nothing here sleeps blindly: ``eventually`` polls an observable condition until a deadline, and
``Probe.next`` waits on a real queue.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any, TypeVar

import aio_pika
import structlog
from aio_pika.abc import AbstractIncomingMessage, AbstractQueue
from aiohttp import web

from shared.logs import configure_logging
from shared.web import INTERNAL_ADDRESS

T = TypeVar("T")


async def eventually(check: Callable[[], Awaitable[T]], timeout: float = 20.0, interval: float = 0.05) -> T:
    """Retry ``check`` until it stops raising AssertionError, or re-raise after ``timeout`` seconds
    (generous, so a busy machine only makes a passing test slower, never failing)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            return await check()
        except AssertionError:
            if loop.time() > deadline:
                raise
            await asyncio.sleep(interval)  # polling an observable, not waiting blind


class ServedUrl(str):
    """The public base URL of a served app; ``internal`` is its internal listener's base URL
    (/healthz, /readyz, /metrics), or "" for an app without one."""

    internal: str

    def __new__(cls, public: str, internal: str) -> ServedUrl:
        url = super().__new__(cls, public)
        url.internal = internal
        return url


def internal_url(app: web.Application) -> str:
    """The base URL of a started app's internal listener (see ``shared.web.setup_http``)."""
    host, port = app[INTERNAL_ADDRESS]
    return f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{port}"


def held_socket(host: str = "127.0.0.1") -> socket.socket:
    """A socket bound to a free port of ``host`` and kept, so an app that must know its own address
    before it starts (a webhook or public URL) serves on it without another listener taking it."""
    sock = socket.socket()
    sock.bind((host, 0))
    return sock


def port_of(sock: socket.socket) -> int:
    port: int = sock.getsockname()[1]
    return port


@asynccontextmanager
async def serve(
    app: web.Application, host: str = "127.0.0.1", sock: socket.socket | None = None
) -> AsyncIterator[ServedUrl]:
    """Run ``app`` (startup and cleanup contexts, so its internal listener too) on a real port, or on
    ``sock`` (see ``held_socket``); yields its public base URL, with the internal listener's as
    ``.internal``. The app is cleaned up even when it fails to start listening."""
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=5)
    await runner.setup()
    try:
        site = web.SockSite(runner, sock) if sock is not None else web.TCPSite(runner, host, 0)
        await site.start()
        bound = runner.addresses[0][1]
        internal = internal_url(app) if INTERNAL_ADDRESS in app else ""
        yield ServedUrl(f"http://{host}:{bound}", internal)
    finally:
        await runner.cleanup()


class Probe:
    """An exclusive, auto-deleted queue bound to an exchange: what a test sees on the bus."""

    def __init__(self, queue: AbstractQueue) -> None:
        self._queue = queue
        self._messages: asyncio.Queue[AbstractIncomingMessage] = asyncio.Queue()

    async def start(self) -> None:
        await self._queue.consume(self._messages.put, no_ack=True)

    async def next(self, timeout: float = 10.0) -> AbstractIncomingMessage:
        async with asyncio.timeout(timeout):
            return await self._messages.get()

    async def next_json(self, timeout: float = 10.0) -> dict[str, Any]:
        message = await self.next(timeout)
        data: dict[str, Any] = json.loads(message.body)
        return data

    async def next_of_type(self, message_type: str, timeout: float = 10.0) -> dict[str, Any]:
        """The next message whose ``type`` is ``message_type`` (others are skipped)."""
        async with asyncio.timeout(timeout):
            while True:
                data = await self.next_json(timeout)
                if data.get("type") == message_type:
                    return data

    def pending(self) -> int:
        return self._messages.qsize()


async def bind_probe(channel: aio_pika.abc.AbstractChannel, exchange: str, routing_key: str = "#") -> Probe:
    queue = await channel.declare_queue(exclusive=True, auto_delete=True)
    await queue.bind(exchange, routing_key)
    probe = Probe(queue)
    await probe.start()
    return probe


class TcpProxy:
    """A TCP proxy in front of a real dependency, which a test can cut and restore.

    Cutting closes every open connection and refuses new ones, as a network partition would look to
    the service, without touching the shared PostgreSQL or RabbitMQ servers.
    """

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.cut_off = False
        self.sent = 0  # bytes the clients sent through the proxy so far
        self._cut_at: int | None = None

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.cut_off:
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers.update({writer, up_writer})
        pipes = [self._pipe(reader, up_writer, upstream=True), self._pipe(up_reader, writer)]
        for coro in pipes:
            task = asyncio.create_task(coro)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, upstream: bool = False
    ) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
                if upstream:
                    self._count(len(data))
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()
            self._writers.discard(writer)

    def _count(self, size: int) -> None:
        self.sent += size
        if self._cut_at is not None and self.sent >= self._cut_at:
            self._cut_at = None
            self.cut()
            self.restore()

    def cut_after(self, size: int) -> None:
        """Drop every connection once, as soon as clients have sent ``size`` more bytes (a broker node
        dying at that moment of the conversation); new connections pass again at once."""
        self._cut_at = self.sent + size

    def cut(self) -> None:
        self.cut_off = True
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    def restore(self) -> None:
        self.cut_off = False

    async def stop(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


@contextmanager
def captured_logs(level: str = "DEBUG") -> Iterator[io.StringIO]:
    """Route every log line (ours and libraries') through the production formatter into a buffer."""
    stream = io.StringIO()
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    configure_logging(level, stream=stream)
    try:
        yield stream
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        structlog.reset_defaults()
