"""Strategies for malformed bus deliveries: bodies that are not JSON, of the wrong shape or types,
with unstorable text, too deep, too large or badly encoded, of unknown or unrouted types, with
hostile AMQP headers and properties. Each is built from a valid contact event so that exactly one
thing is wrong with it."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from hypothesis import strategies as st

from shared import messages as m
from tests.service.notifier.support import contact

from .bus import Raw
from .strategies import JSON_VALUES, NOT_TEXT, PLAIN, badly_encoded, huge_text, nested, not_json

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


def bad_bodies(unrouted: m.Message) -> st.SearchStrategy[bytes]:
    """Malformed bodies, and ``unrouted``: a valid message the queue does not handle."""
    return st.one_of(
        not_json(),
        JSON_VALUES.filter(lambda v: not isinstance(v, dict)).map(lambda v: json.dumps(v).encode()),
        missing_field(),
        wrong_type(),
        unstorable_text(),
        too_deep(),
        too_large(),
        st.builds(good_document).flatmap(badly_encoded),
        unknown_type_or_version(),
        st.just(unrouted.to_json()),
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


def bad_deliveries(
    queues: tuple[str, ...], unrouted: m.Message, reply_to: str | None = None
) -> st.SearchStrategy[Raw]:
    """Malformed deliveries to one of ``queues``, with hostile headers and properties."""
    return st.builds(
        Raw,
        body=bad_bodies(unrouted),
        queue=st.sampled_from(queues),
        headers=HOSTILE_HEADERS,
        content_type=st.sampled_from([None, "application/json", "text/plain", "application/x-garbage"]),
        content_encoding=st.sampled_from([None, "gzip", "utf-16", "x-bad"]),
        reply_to=st.just(reply_to),
    )
