"""A raw HTTP/1.1 client for hostile requests: the request line, headers and body go out byte for
byte as given (invalid UTF-8, duplicated headers, control characters), which no ordinary client
would send."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Answer:
    status: int
    content_type: str
    body: str


async def send(
    base_url: str,
    method: str,
    target: bytes,
    headers: Sequence[tuple[bytes, bytes]] = (),
    body: bytes = b"",
    timeout: float = 15.0,
) -> Answer:
    """Send one request to ``base_url`` (``target`` is the raw path and query) and read the answer."""
    parts = urlsplit(base_url)
    async with asyncio.timeout(timeout):
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        try:
            lines = [method.encode() + b" " + target + b" HTTP/1.1", b"Host: " + parts.netloc.encode()]
            lines += [name + b": " + value for name, value in headers]
            lines += [b"Content-Length: " + str(len(body)).encode(), b"Connection: close"]
            writer.write(b"\r\n".join(lines) + b"\r\n\r\n" + body)
            with contextlib.suppress(ConnectionResetError, BrokenPipeError):
                await writer.drain()  # a server refusing a large body early may stop reading it
            raw = await reader.read()
        finally:
            writer.close()
    return parse(raw)


def parse(raw: bytes) -> Answer:
    head, _, payload = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    fields = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        fields[name.strip().lower()] = value.strip()
    if "chunked" in fields.get("transfer-encoding", ""):
        payload = dechunk(payload)
    return Answer(
        int(status_line.split(" ")[1]), fields.get("content-type", ""), payload.decode(errors="replace")
    )


def dechunk(payload: bytes) -> bytes:
    out = b""
    while payload:
        size_line, _, rest = payload.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out, payload = out + rest[:size], rest[size + 2 :]
    return out
