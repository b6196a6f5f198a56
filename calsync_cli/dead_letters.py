"""``calsync dead-letters list|redrive <queue>``: the messages parked in a work queue's dead-letter
queue (``<queue>.dead``, shared/topology.py), and sending them back to the queue once the cause is
fixed. This talks to the broker directly: the dead-letter queues are the bus's, no service's.

A re-driven copy is published as the broker user of ``AMQP_URL_<SERVICE>`` (else ``AMQP_URL``): with
publisher verification on that must be the consuming service's own user, so the consumer reads the
original publisher from ``x-calsync-publisher`` as it does for its own retries (shared/forwarding.py);
a forged message therefore stays forged after a redrive."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any
from urllib.parse import unquote, urlsplit

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage

from calsync_cli.client import CliError, Services
from calsync_cli.commands import Outcome
from calsync_cli.render import table
from shared import topology as t
from shared.forwarding import PUBLISHER_HEADER

DROPPED_HEADERS = (
    "x-calsync-attempt",
    "x-calsync-last-error",
    "x-death",
    "x-first-death-exchange",
    "x-first-death-queue",
    "x-first-death-reason",
    "x-last-death-exchange",
    "x-last-death-queue",
    "x-last-death-reason",
    "x-delivery-count",
)
CONNECT_SECONDS = 10.0


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    top = sub.add_parser("dead-letters", parents=[common], help="list or re-drive a queue's dead letters")
    actions = top.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", parents=[common], help="what is parked, and why")
    listing.add_argument("queue", type=_queue, help=f"one of: {', '.join(t.QUEUES)}")
    listing.add_argument("--limit", type=int, default=20, help="show at most this many (default 20)")
    listing.set_defaults(run=list_dead)
    redrive = actions.add_parser(
        "redrive", parents=[common], help="send the parked messages back to the queue"
    )
    redrive.add_argument("queue", type=_queue, help=f"one of: {', '.join(t.QUEUES)}")
    redrive.set_defaults(run=redrive_dead)


def _queue(name: str) -> str:
    if name not in t.QUEUES:
        raise argparse.ArgumentTypeError(f"unknown queue {name!r}; one of: {', '.join(t.QUEUES)}")
    return name


def _broker_url(services: Services, queue: str) -> str:
    service = t.QUEUES[queue].service
    url = services.env.get(f"AMQP_URL_{service.upper()}") or services.env.get("AMQP_URL", "")
    if not url:
        raise CliError(f"AMQP_URL is not set (or AMQP_URL_{service.upper()}, {service}'s broker user)")
    return url


def _login(url: str) -> str:
    return unquote(urlsplit(url).username or "guest")


async def _connect(url: str) -> aio_pika.abc.AbstractConnection:
    where = urlsplit(url).hostname or "?"
    try:
        async with asyncio.timeout(CONNECT_SECONDS):
            return await aio_pika.connect(url)
    except TimeoutError:
        raise CliError(f"the broker did not answer within {CONNECT_SECONDS:g} s at {where}") from None
    except aio_pika.exceptions.ProbableAuthenticationError:
        raise CliError(f"the broker refused the login of AMQP_URL's user at {where}") from None
    except (OSError, aio_pika.exceptions.AMQPError) as exc:
        raise CliError(f"the broker is unreachable at {where}: {type(exc).__name__}: {exc}") from None


async def _dead_queue(channel: AbstractChannel, name: str) -> aio_pika.abc.AbstractQueue:
    try:
        return await channel.declare_queue(name, passive=True)
    except aio_pika.exceptions.ChannelClosed as exc:
        raise CliError(f"no queue {name} on the broker (has its service ever started?): {exc}") from None


def _row(message: AbstractIncomingMessage) -> dict[str, Any]:
    headers = message.headers or {}
    return {
        "message_id": message.message_id,
        "type": message.type,
        "reason": str(headers.get("x-calsync-reason", headers.get("x-first-death-reason", "")) or "") or None,
        "publisher": str(headers.get(PUBLISHER_HEADER, message.user_id or "")) or None,
    }


async def list_dead(services: Services, args: argparse.Namespace) -> Outcome:
    """Up to ``--limit`` parked messages (their ids, types and reasons, never their bodies); they stay
    parked: the peeked ones return to the queue when the channel closes."""
    prefix = services.env.get("AMQP_PREFIX", "")
    name = prefix + t.dead_queue(args.queue)
    connection = await _connect(_broker_url(services, args.queue))
    async with connection:
        channel = await connection.channel()
        queue = await _dead_queue(channel, name)
        total = queue.declaration_result.message_count or 0
        rows = []
        for _ in range(min(total, max(args.limit, 0))):
            message = await queue.get(no_ack=False, fail=False)
            if message is None:
                break
            rows.append(_row(message))
        await channel.close()  # unacknowledged: every peeked message goes back
    data = {"queue": args.queue, "dead_queue": name, "count": total, "messages": rows}
    if not total:
        return Outcome(data, [f"{name}: no dead letters"])
    shown = table(
        ["MESSAGE ID", "TYPE", "PUBLISHER", "REASON"],
        [[r["message_id"], r["type"], r["publisher"], r["reason"]] for r in rows],
    )
    return Outcome(data, [f"{name}: {total} dead letter(s)", *shown])


async def redrive_dead(services: Services, args: argparse.Namespace) -> Outcome:
    """Move every message parked when the command starts back to its work queue: publish with
    confirms, then acknowledge the parked copy, one at a time, so none is lost or doubled on a crash
    in between (a doubled one is deduplicated by the consumer's processed_messages)."""
    prefix = services.env.get("AMQP_PREFIX", "")
    url = _broker_url(services, args.queue)
    connection = await _connect(url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        queue = await _dead_queue(channel, prefix + t.dead_queue(args.queue))
        total = queue.declaration_result.message_count or 0
        moved = 0
        for _ in range(total):
            message = await queue.get(no_ack=False, fail=False)
            if message is None:
                break
            await _republish(channel, message, prefix + args.queue, _login(url))
            await message.ack()
            moved += 1
            _progress(services, moved, total)
    if total:
        services.progress.write("\n")
    data = {"queue": args.queue, "redriven": moved}
    return Outcome(data, [f"{moved} message(s) sent back to {prefix + args.queue}"])


async def _republish(
    channel: AbstractChannel, message: AbstractIncomingMessage, queue: str, user: str
) -> None:
    headers = {k: v for k, v in (message.headers or {}).items() if k not in DROPPED_HEADERS}
    # A copy RabbitMQ parked itself (delivery limit) has no publisher header: its user_id is the publisher.
    headers.setdefault(PUBLISHER_HEADER, message.user_id or "")
    headers["x-calsync-redriven"] = True
    copy = aio_pika.Message(
        message.body,
        message_id=message.message_id,
        type=message.type,
        content_type=message.content_type,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        headers=headers,
        timestamp=message.timestamp,
        app_id="calsync-cli",
        user_id=user,
    )
    try:
        await channel.default_exchange.publish(copy, routing_key=queue, mandatory=True)
    except aio_pika.exceptions.DeliveryError as exc:
        raise CliError(f"the broker did not take the message back to {queue}: {exc}") from None


def _progress(services: Services, moved: int, total: int) -> None:
    services.progress.write(f"\rredriving {queue_bar(moved, total)} {moved}/{total}")
    services.progress.flush()


def queue_bar(done: int, total: int, width: int = 20) -> str:
    filled = width * done // total if total else width
    return "[" + "#" * filled + "." * (width - filled) + "]"
