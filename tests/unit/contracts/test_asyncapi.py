"""docs/asyncapi.yaml: in step with shared/messages.py and shared/topology.py, and valid AsyncAPI 3.0."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from scripts import gen_asyncapi
from shared import messages as m
from shared import topology as t

SCHEMA = Path(__file__).with_name("asyncapi-3.0.0.schema.json")


@pytest.fixture(scope="module")
def committed() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(gen_asyncapi.OUT.read_text())
    return document


def test_asyncapi_doc_is_current(committed: dict[str, Any]) -> None:
    """docs/asyncapi.yaml is what the generator writes now (regenerate with `make docs`)."""
    fresh = gen_asyncapi.document()
    parts = {
        "channels": (committed["channels"], fresh["channels"]),
        "operations": (committed["operations"], fresh["operations"]),
        "components.messages": (committed["components"]["messages"], fresh["components"]["messages"]),
        "components.schemas": (committed["components"]["schemas"], fresh["components"]["schemas"]),
    }
    for part, (old, new) in parts.items():
        missing, stale = sorted(set(new) - set(old)), sorted(set(old) - set(new))
        assert not (missing or stale), f"{part}: missing {missing}, stale {stale}; run `make docs`"
    assert gen_asyncapi.OUT.read_text() == gen_asyncapi.render(), (
        "docs/asyncapi.yaml is out of date: run `make docs`"
    )


def test_asyncapi_doc_is_valid_asyncapi_3(committed: dict[str, Any]) -> None:
    """The document validates against the official AsyncAPI 3.0.0 JSON Schema."""
    validator = jsonschema.Draft7Validator(json.loads(SCHEMA.read_text()))
    problems = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}" for e in validator.iter_errors(committed)
    ]
    assert not problems, "\n".join(problems)


def test_every_message_exchange_and_queue_is_described(committed: dict[str, Any]) -> None:
    """Each contract message has its message, payload schema and a send operation; each exchange and
    work queue its channel, and each queue a receive operation."""
    components, operations = committed["components"], committed["operations"]
    for cls in m.ALL_MESSAGES:
        assert cls.TYPE in components["messages"], cls.TYPE
        assert cls.__name__ in components["schemas"], cls.__name__
        if cls.EXCHANGE:
            assert f"{gen_asyncapi.publisher(cls)}.send.{cls.TYPE}" in operations, cls.TYPE
    for exchange in t.EXCHANGES:
        assert gen_asyncapi.exchange_channel(exchange) in committed["channels"], exchange
    for queue in t.QUEUES:
        assert gen_asyncapi.queue_channel(queue) in committed["channels"], queue
        assert f"{queue}.receive" in operations, queue


def test_every_example_matches_its_payload_schema(committed: dict[str, Any]) -> None:
    """The examples are valid against the payload schemas the document publishes."""
    components = committed["components"]
    for kind, message in components["messages"].items():
        payload = {**message["payload"], "components": components}
        for example in message.get("examples", []):
            jsonschema.Draft7Validator(payload).validate(example["payload"])
        assert message.get("examples"), f"{kind} has no example"


TOPIC_CASES = [  # (binding pattern, routing key, whether it matches)
    ("auth.#", "auth.grant.connected", True),
    ("auth.#", "auth", True),
    ("auth.grant.*", "auth.grant.connected", True),
    ("auth.grant.*", "auth.grant", False),
    ("platform.user.*", "platform.user.deleted", True),
    ("platform.user.deleted", "platform.user.updated", False),
    ("#.alert", "auth.operator.alert", True),
    ("*.operator.#", "auth.operator.alert", True),
]


@pytest.mark.parametrize(("pattern", "key", "expected"), TOPIC_CASES)
def test_topic_matching_follows_amqp(pattern: str, key: str, expected: bool) -> None:
    """Which messages a queue receives is computed with AMQP's topic rules."""
    assert gen_asyncapi.topic_matches(pattern, key) is expected


def test_every_consumer_queue_receives_something() -> None:
    """A queue whose bindings match no message would be a stale binding or a typo."""
    for queue in t.QUEUES.values():
        assert gen_asyncapi.routed_to(queue), queue.name
