"""Malformed messages on the notifier's queues (not JSON, wrong types, missing fields, NUL and lone
surrogates, deep nesting, huge or badly encoded bodies, hostile headers) are dead-lettered with a
reason, and a good message published after each batch is still handled."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import aio_pika
import asyncpg
from hypothesis import given
from hypothesis import strategies as st

from shared import messages as m
from shared.amqp import Broker
from tests.service.notifier.support import Notifier, contact, finished

from .bus import DeadLetters, Raw, consumed, publish_good_contact, publish_to_queue
from .strategies import JSON_VALUES, NOT_TEXT, PLAIN, badly_encoded, huge_text, nested, not_json
from .support import BUS_BATCH, OnLoop, run_property

QUEUES = ("notifier.user_events", "notifier.auth_events", "notifier.calendar_events")
UNSTORABLE = st.sampled_from(["\x00", "\ud800", "\udfff"])


def good_document() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(contact("u-" + uuid.uuid4().hex[:8]).to_json())
    return data


def body(document: dict[str, Any]) -> bytes:
    return json.dumps(document).encode()


@st.composite
def missing_field(draw: st.DrawFn) -> bytes:
    document = good_document()
    del document[draw(st.sampled_from(["type", "message_id", "occurred_at", "user_id", "email"]))]
    return body(document)


@st.composite
def wrong_type(draw: st.DrawFn) -> bytes:
    document = good_document()
    name = draw(st.sampled_from(["user_id", "email", "message_id", "occurred_at", "type"]))
    value = draw(
        NOT_TEXT.filter(lambda v: not isinstance(v, int | float)) if name == "occurred_at" else NOT_TEXT
    )
    document[name] = value
    return body(document)


@st.composite
def unstorable_text(draw: st.DrawFn) -> bytes:
    document = good_document()
    name = draw(st.sampled_from(["user_id", "name", "locale", "message_id"]))
    text = document[name] or "Anna"
    at = draw(st.integers(0, len(text)))
    document[name] = text[:at] + draw(UNSTORABLE) + text[at:]
    return json.dumps(document).encode("utf-8", "surrogatepass") if draw(st.booleans()) else body(document)


@st.composite
def too_deep(draw: st.DrawFn) -> bytes:
    text = json.dumps(good_document())
    return (text[:-1] + ', "name": ' + draw(nested(m.MAX_NESTING)) + "}").encode()


@st.composite
def too_large(draw: st.DrawFn) -> bytes:
    return body({**good_document(), "name": draw(huge_text(m.MAX_BODY_BYTES))})


@st.composite
def unknown_type_or_version(draw: st.DrawFn) -> bytes:
    document = good_document()
    if draw(st.booleans()):
        document["type"] = draw(PLAIN.filter(lambda kind: kind not in m.BY_TYPE))
    else:
        document["schema_version"] = draw(st.sampled_from([0, -1, 2, 99, "1", 1.5, None, [1]]))
    return body(document)


def unrouted() -> st.SearchStrategy[bytes]:
    """A valid message of a type no notifier queue handles."""
    return st.builds(lambda: m.TokenRequested(user_id="u-unrouted").to_json())


BAD_BODIES = st.one_of(
    not_json(),
    JSON_VALUES.filter(lambda v: not isinstance(v, dict)).map(lambda v: json.dumps(v).encode()),
    missing_field(),
    wrong_type(),
    unstorable_text(),
    too_deep(),
    too_large(),
    st.builds(good_document).flatmap(badly_encoded),
    unknown_type_or_version(),
    unrouted(),
)
HEADER_VALUES = st.one_of(
    PLAIN,
    st.integers(-(2**63), 2**63 - 1),
    st.booleans(),
    st.floats(allow_nan=False, width=32),
    st.binary(max_size=8).map(bytearray),
    st.lists(PLAIN, max_size=2),
    st.dictionaries(PLAIN, PLAIN, max_size=2),
    st.just(datetime(2026, 1, 1, tzinfo=UTC)),
)
HOSTILE_HEADERS = st.dictionaries(
    st.sampled_from(["x-calsync-attempt", "x-calsync-publisher", "x-calsync-reason", "x-death", "x-other"]),
    HEADER_VALUES,
    max_size=3,
)
BAD_DELIVERIES = st.builds(
    Raw,
    body=BAD_BODIES,
    queue=st.sampled_from(QUEUES),
    headers=HOSTILE_HEADERS,
    content_type=st.sampled_from([None, "application/json", "text/plain", "application/x-garbage"]),
    content_encoding=st.sampled_from([None, "gzip", "utf-16", "x-bad"]),
)


async def test_malformed_messages_are_dead_lettered_with_a_reason(
    notifier_service: Notifier,
    module_bus: Broker,
    module_channel: aio_pika.abc.AbstractChannel,
    module_prefix: str,
    module_db: asyncpg.Pool,
) -> None:
    """Each generated batch of malformed deliveries lands in the dead-letter queues, every one with a
    reason, and the good contact event published after the batch is stored."""
    on_loop, dead = OnLoop(), DeadLetters(module_channel, module_prefix)

    @BUS_BATCH
    @given(batch=st.lists(BAD_DELIVERIES, min_size=1, max_size=4))
    def batch_is_refused(batch: list[Raw]) -> None:
        before = finished(notifier_service)
        sent = {on_loop(publish_to_queue(module_channel, module_prefix, raw)): raw.queue for raw in batch}
        user_id = "u-good-" + uuid.uuid4().hex[:8]
        on_loop(publish_good_contact(module_bus, module_db, user_id))
        on_loop(consumed(notifier_service, before + len(sent) + 1))
        reasons = on_loop(dead.wait_for(sent))
        assert all(reasons.values()), reasons

    await run_property(batch_is_refused)
    await publish_good_contact(module_bus, module_db, "u-after-all")
    assert await module_db.fetchval("SELECT count(*) FROM notifier.jobs") == 0
