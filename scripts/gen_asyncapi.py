"""Writes docs/asyncapi.yaml, the AsyncAPI 3.0 document of the bus, from shared/messages.py and
shared/topology.py (``make docs``, after docs/messages.md).

Everything comes from the code: one channel per exchange (where messages are published) and one per
work queue (where a service receives them, with the messages its bindings route there), a send
operation per message and publisher, a receive operation per queue, and each message's payload as
the JSON Schema of its pydantic model plus the envelope fields. Descriptions and examples are taken
from scripts/gen_messages_doc.py, which writes the prose of docs/messages.md.
tests/unit/contracts/test_asyncapi.py fails when the file is out of date or not valid AsyncAPI 3.0.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import yaml
from pydantic.json_schema import models_json_schema

from scripts import gen_messages_doc as doc
from shared import messages as m
from shared import topology as t
from shared.config import BrokerUsers
from shared.forwarding import PUBLISHER_HEADER

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "asyncapi.yaml"
SCHEMAS = "#/components/schemas/"
AMQP_BINDING = "0.3.0"

# A message published to the default exchange is the reply to a request (``reply_to``).
REPLIES: dict[type[m.Message], type[m.Message]] = {m.TokenRequested: m.TokenReply}
REPLY_CHANNEL = "reply.token"

EXCHANGE_NOTES = {
    m.PLATFORM_EVENTS: "Published by the platform's own services; calsync declares it too (same arguments).",
    m.AUTH_EVENTS: "auth's grant events and operator alerts.",
    m.SYNC_EVENTS: "sync's calendar events and its backfill requests to the platform.",
    m.NOTIFIER_EVENTS: "notifier's delivery outcomes, for the platform; no calsync service consumes them, "
    "and a message no queue is bound for is dropped by design.",
    m.AUTH_RPC: "Token requests from sync to auth (request/reply).",
    t.RETRY_EXCHANGE: "Internal: a consumer re-publishes a failed delivery here with routing key "
    "`<queue>.<delay ms>`; it waits in `<queue>.retry.<delay ms>` and is dead-lettered back to the queue.",
    t.DEAD_EXCHANGE: "Internal: a consumer parks a delivery it can never handle here with routing key "
    "`<queue>`; it is kept in `<queue>.dead` for operators, with the reason in `x-calsync-reason`.",
}

# Application headers: publishers set none; the copies a consumer forwards to a delay queue or a
# dead-letter queue (shared.forwarding) carry these.
HEADERS: dict[str, tuple[str, str]] = {
    "x-calsync-attempt": ("integer", "Next attempt number, on a copy waiting in a delay queue."),
    "x-calsync-last-error": ("string", "Why the last attempt failed, on a copy in a delay queue."),
    "x-calsync-reason": ("string", "Why the message was dead-lettered, on a copy in `<queue>.dead`."),
    "x-calsync-queue": ("string", "The queue that dead-lettered the message."),
    "x-calsync-original-exchange": ("string", "The exchange the message was first published to."),
    "x-calsync-original-routing-key": ("string", "The routing key it was first published with."),
    PUBLISHER_HEADER: ("string", "The broker user that first published the message (on forwarded copies)."),
    "x-delivery-count": ("integer", "Set by RabbitMQ's quorum queues: how often the message was returned."),
}

INFO = """The messages calsync's services (auth, sync, notifier) and the platform exchange over
RabbitMQ, generated from `shared/messages.py` and `shared/topology.py` by `make docs`; do not edit by
hand. [messages.md](messages.md) says the same in prose, with every field and what calsync does with
each message.

Every message is persistent (`delivery_mode` 2) with `content_type: application/json`, the AMQP
`message_id` and `type` properties set, `app_id` = the publishing service, and `user_id` = the
publisher's broker user, which RabbitMQ checks; with publisher verification on, a consumer
dead-letters a message from any other broker user. Delivery is at least once: deduplicate on
`message_id`. Unknown payload fields are ignored; a breaking change raises `schema_version`.
A message that cannot be decoded or validated goes to the consuming queue's `<queue>.dead`.

Every exchange and queue name carries the deployment's `AMQP_PREFIX` (empty in production).
Exchanges are durable with no arguments; work queues are durable quorum queues with a delivery limit
of {delivery_limit}, a dead-letter queue `<queue>.dead` and delay queues `<queue>.retry.<ms>`."""


# A SafeDumper that writes text with paragraphs as a literal block, so the YAML reads like its prose.
_Dumper: Any = type("_Dumper", (yaml.SafeDumper,), {})


def _text(dumper: Any, value: str) -> Any:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)


_Dumper.add_representer(str, _text)


def dump(data: Any) -> str:
    """YAML for a contract document (shared with the OpenAPI checks): key order kept, long lines."""
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=110)


def render() -> str:
    return dump(document())


def document() -> dict[str, Any]:
    messages = {cls.TYPE: _message(cls) for cls in m.ALL_MESSAGES}
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "calsync message bus",
            "version": _version(),
            "description": _plain(INFO.replace("{delivery_limit}", str(t.DELIVERY_LIMIT))),
            "license": {"name": "Apache-2.0"},
            "tags": [{"name": name} for name in ("platform", *t.PUBLISHES)],
        },
        "defaultContentType": "application/json",
        "servers": {
            "broker": {
                "host": "{host}:{port}",
                "protocol": "amqp",
                "protocolVersion": "0.9.1",
                "pathname": "/",
                "description": "The deployment's RabbitMQ (`AMQP_URL`, vhost `/`; `amqps` with TLS).",
                "variables": {
                    "host": {"default": "127.0.0.1", "description": "Broker host."},
                    "port": {"default": "5672", "description": "Broker port (5671 for amqps)."},
                },
                "security": [{"$ref": "#/components/securitySchemes/brokerUser"}],
            }
        },
        "channels": {**_exchange_channels(), **_queue_channels(), **_reply_channels()},
        "operations": {**_send_operations(), **_receive_operations()},
        "components": {
            "messages": messages,
            "schemas": _schemas(),
            "securitySchemes": {
                "brokerUser": {
                    "type": "userPassword",
                    "description": "One broker user per publisher (docs/security.md): "
                    + ", ".join(f"{name} `{BrokerUsers().of(name)}`" for name in ("platform", *t.PUBLISHES))
                    + " by default (`AMQP_USER_<PUBLISHER>` names others).",
                }
            },
        },
    }


def _version() -> str:
    with (ROOT / "pyproject.toml").open("rb") as file:
        return str(tomllib.load(file)["project"]["version"])


# ---------------------------------------------------------------------------------------- channels


def exchange_channel(exchange: str) -> str:
    return f"exchange.{exchange}"


def queue_channel(queue: str) -> str:
    return f"queue.{queue}"


def _refs(types: list[str]) -> dict[str, dict[str, str]]:
    return {kind: {"$ref": f"#/components/messages/{kind}"} for kind in types}


def _exchange_channels() -> dict[str, Any]:
    channels = {}
    for exchange, kind in t.EXCHANGES.items():
        bound = [q.name for q in t.QUEUES.values() if q.exchange == exchange]
        description = EXCHANGE_NOTES.get(exchange, "")
        if bound:
            description += " Bound queues: " + ", ".join(f"`{name}`" for name in bound) + "."
        channels[exchange_channel(exchange)] = {
            "address": exchange,
            "title": f"{exchange} ({kind} exchange)",
            "description": description.strip(),
            "messages": _refs([cls.TYPE for cls in m.ALL_MESSAGES if exchange == cls.EXCHANGE]),
            "bindings": {
                "amqp": {
                    "is": "routingKey",
                    "exchange": {
                        "name": exchange,
                        "type": kind,
                        "durable": True,
                        "autoDelete": False,
                        "vhost": "/",
                    },
                    "bindingVersion": AMQP_BINDING,
                }
            },
        }
    return channels


def topic_matches(pattern: str, key: str) -> bool:
    """AMQP topic matching: ``*`` is one dot-separated word, ``#`` zero or more."""
    wanted, words = pattern.split("."), key.split(".")

    def match(i: int, j: int) -> bool:
        if i == len(wanted):
            return j == len(words)
        if wanted[i] == "#":
            return any(match(i + 1, rest) for rest in range(j, len(words) + 1))
        return j < len(words) and wanted[i] in ("*", words[j]) and match(i + 1, j + 1)

    return match(0, 0)


def routed_to(queue: t.QueueSpec) -> list[type[m.Message]]:
    """The messages the queue's bindings route to it."""
    return [
        cls
        for cls in m.ALL_MESSAGES
        if queue.exchange == cls.EXCHANGE
        and any(topic_matches(key, cls.ROUTING_KEY) for key in queue.routing_keys)
    ]


def _queue_channels() -> dict[str, Any]:
    channels = {}
    for queue in t.QUEUES.values():
        keys = ", ".join(f"`{key}`" for key in queue.routing_keys)
        channels[queue_channel(queue.name)] = {
            "address": queue.name,
            "title": f"{queue.name} ({queue.service}'s work queue)",
            "description": f"Bound to `{queue.exchange}` with {keys}. Quorum queue; a message that cannot"
            f" be handled is parked in `{t.dead_queue(queue.name)}`.",
            "messages": _refs([cls.TYPE for cls in routed_to(queue)]),
            "bindings": {
                "amqp": {
                    "is": "queue",
                    "queue": {
                        "name": queue.name,
                        "durable": True,
                        "exclusive": False,
                        "autoDelete": False,
                        "vhost": "/",
                    },
                    "bindingVersion": AMQP_BINDING,
                }
            },
            "x-calsync-bindings": {"exchange": queue.exchange, "routing_keys": list(queue.routing_keys)},
        }
    return channels


def _reply_channels() -> dict[str, Any]:
    return {
        REPLY_CHANNEL: {
            "address": None,
            "title": "the requester's reply queue",
            "description": "The request's `reply_to`: the requester's exclusive, auto-deleted "
            "`<prefix>rpc.reply.<32 hex>` queue, or RabbitMQ's direct reply-to `amq.rabbitmq.reply-to`. "
            "A request naming any other queue is dead-lettered unanswered. Replies are published to the "
            "default exchange with routing key = `reply_to` and the request's `correlation_id`.",
            "messages": _refs([reply.TYPE for reply in REPLIES.values()]),
            "bindings": {
                "amqp": {
                    "is": "queue",
                    "queue": {"exclusive": True, "autoDelete": True, "durable": False, "vhost": "/"},
                    "bindingVersion": AMQP_BINDING,
                }
            },
        }
    }


# -------------------------------------------------------------------------------------- operations


def publisher(cls: type[m.Message]) -> str:
    """Who publishes ``cls``: the documented publisher of its exchange, or for a reply the service
    that consumes the request."""
    if cls.EXCHANGE:
        return t.PUBLISHER_OF[cls.EXCHANGE]
    requests = [request for request, reply in REPLIES.items() if reply is cls]
    if not requests:
        raise SystemExit(f"{cls.__name__} has no exchange and is no reply: add it to REPLIES in {__file__}")
    return next(q.service for q in t.QUEUES.values() if q.exchange == requests[0].EXCHANGE)


def _send_operations() -> dict[str, Any]:
    operations = {}
    for cls in m.ALL_MESSAGES:
        if not cls.EXCHANGE:
            continue  # replies are part of the request's operations
        sender = publisher(cls)
        channel = exchange_channel(cls.EXCHANGE)
        operation: dict[str, Any] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{channel}"},
            "title": f"{sender} publishes {cls.TYPE}",
            "summary": f"Routing key `{cls.ROUTING_KEY}`.",
            "messages": [{"$ref": f"#/channels/{channel}/messages/{cls.TYPE}"}],
            "tags": [{"name": sender}],
            "bindings": {"amqp": _publish_binding(cls, sender)},
        }
        if cls in REPLIES:
            operation["reply"] = _reply(REPLIES[cls])
        operations[f"{sender}.send.{cls.TYPE}"] = operation
    return operations


def _publish_binding(cls: type[m.Message], sender: str) -> dict[str, Any]:
    """How the message is published; whether an unroutable one is an error is calsync's own rule."""
    binding: dict[str, Any] = {"deliveryMode": 2, "userId": BrokerUsers().of(sender)}
    if sender in t.PUBLISHES:
        binding["mandatory"] = t.routing_required(cls.EXCHANGE, cls.ROUTING_KEY)
    return {**binding, "bindingVersion": AMQP_BINDING}


def _receive_operations() -> dict[str, Any]:
    operations = {}
    for queue in t.QUEUES.values():
        channel = queue_channel(queue.name)
        routed = routed_to(queue)
        operation: dict[str, Any] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{channel}"},
            "title": f"{queue.service} consumes {queue.name}",
            "messages": [{"$ref": f"#/channels/{channel}/messages/{cls.TYPE}"} for cls in routed],
            "tags": [{"name": queue.service}],
            "bindings": {"amqp": {"ack": True, "bindingVersion": AMQP_BINDING}},
        }
        replies = [REPLIES[cls] for cls in routed if cls in REPLIES]
        if replies:
            operation["reply"] = _reply(replies[0])
        operations[f"{queue.name}.receive"] = operation
    return operations


def _reply(reply: type[m.Message]) -> dict[str, Any]:
    return {
        "address": {
            "location": "$message.header#/reply_to",
            "description": "The request's AMQP `reply_to` property.",
        },
        "channel": {"$ref": f"#/channels/{REPLY_CHANNEL}"},
        "messages": [{"$ref": f"#/channels/{REPLY_CHANNEL}/messages/{reply.TYPE}"}],
    }


# ---------------------------------------------------------------------------------------- messages


def _message(cls: type[m.Message]) -> dict[str, Any]:
    sender = publisher(cls)
    summary, *more = _plain((cls.__doc__ or "").strip()).split("\n\n")
    handling = doc.HANDLING.get(sender, {}).get(cls.TYPE)
    route = (
        f"Published by {sender} to `{cls.EXCHANGE}` with routing key `{cls.ROUTING_KEY}`."
        if cls.EXCHANGE
        else f"Published by {sender} to the default exchange, routing key = the request's `reply_to`."
    )
    message: dict[str, Any] = {
        "name": cls.TYPE,
        "title": f"{cls.TYPE} (schema version {cls.SCHEMA_VERSION})",
        "summary": summary or cls.TYPE,
        "description": "\n\n".join(
            [*more, route, *([f"What calsync does with it: {handling}"] if handling else [])]
        ),
        "contentType": "application/json",
        "headers": {"$ref": f"{SCHEMAS}Headers"},
        "payload": {"$ref": f"{SCHEMAS}{cls.__name__}"},
        "tags": [{"name": sender}],
        "bindings": {"amqp": {"messageType": cls.TYPE, "bindingVersion": AMQP_BINDING}},
    }
    if cls in REPLIES or cls in REPLIES.values():
        message["correlationId"] = {
            "location": "$message.header#/correlation_id",
            "description": "The AMQP `correlation_id` property: the reply carries the request's.",
        }
    if cls in doc.EXAMPLES:
        example = cls(**{**doc.COMMON, **doc.EXAMPLES[cls]})
        message["examples"] = [{"name": "example", "payload": json.loads(example.to_json())}]
    return message


def _plain(text: str) -> str:
    """A docstring as Markdown: reST's double backticks become single ones, each paragraph one line."""
    paragraphs = re.split(r"\n\s*\n", text.replace("``", "`"))
    return "\n\n".join(" ".join(line.strip() for line in part.splitlines()) for part in paragraphs)


def _schemas() -> dict[str, Any]:
    _, top = models_json_schema(
        [(cls, "validation") for cls in m.ALL_MESSAGES], ref_template=SCHEMAS + "{model}"
    )
    by_name = {cls.__name__: cls for cls in m.ALL_MESSAGES}
    schemas: dict[str, Any] = {"Headers": _headers()}
    for name, schema in sorted(top["$defs"].items()):
        cleaned = _clean(schema)
        if "description" in cleaned:
            cleaned["description"] = _plain(cleaned["description"])
        schemas[name] = _with_envelope(by_name[name], cleaned) if name in by_name else cleaned
    return schemas


def _clean(schema: dict[str, Any]) -> dict[str, Any]:
    """Drop pydantic's generated property titles; document each field from FIELD_NOTES if it has no
    description of its own."""
    properties = {}
    for field, spec in schema.get("properties", {}).items():
        spec = {key: value for key, value in spec.items() if key != "title"}
        note = doc.FIELD_NOTES.get(field)
        if note and "description" not in spec:
            spec = {"description": note, **spec}
        properties[field] = spec
    return {**schema, "properties": properties} if properties else dict(schema)


def _with_envelope(cls: type[m.Message], schema: dict[str, Any]) -> dict[str, Any]:
    """The model's schema with the envelope as it travels: ``type`` and ``schema_version`` (added by
    ``Message.to_json``) and ``message_id``/``occurred_at`` required on the wire."""
    properties = dict(schema["properties"])
    envelope = {
        "message_id": properties.pop("message_id"),
        "type": {
            "description": f"The message type, always `{cls.TYPE}`.",
            "type": "string",
            "const": cls.TYPE,
        },
        "schema_version": {
            "description": doc.FIELD_NOTES["schema_version"],
            "type": "integer",
            "minimum": 1,
            "maximum": cls.SCHEMA_VERSION,
            "default": 1,
        },
        "occurred_at": properties.pop("occurred_at"),
    }
    required = ["message_id", "type", "occurred_at", *schema.get("required", [])]
    return {**schema, "properties": {**envelope, **properties}, "required": required}


def _headers() -> dict[str, Any]:
    return {
        "type": "object",
        "description": "AMQP application headers. Publishers need set none; a consumer's forwarded copies"
        " in delay and dead-letter queues carry these.",
        "properties": {name: {"type": kind, "description": text} for name, (kind, text) in HEADERS.items()},
    }


if __name__ == "__main__":
    doc.write_or_check(OUT, render())
