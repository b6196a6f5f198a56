"""The message contract: round trips, specific validation errors, and the generated documentation."""

from __future__ import annotations

import json
from datetime import date

import pytest

from scripts import gen_messages_doc
from shared import messages as m


def _valid(**changes: object) -> dict[str, object]:
    body: dict[str, object] = json.loads(
        m.AppointmentCreated(
            appointment_id="a-1",
            version=1,
            owner_user_id="u",
            account_id="acc",
            title="Termin",
            start=m.EventTime(date=date(2026, 5, 1)),
            end=m.EventTime(date=date(2026, 5, 2)),
        ).to_json()
    )
    body.update(changes)
    return body


def test_every_documented_example_round_trips() -> None:
    """Each message type encodes to JSON and decodes back to an equal message."""
    for cls in m.ALL_MESSAGES:
        example = cls(**{**gen_messages_doc.COMMON, **gen_messages_doc.EXAMPLES[cls]})
        assert m.decode(example.to_json()) == example


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"version": 0}, "version: Input should be greater than or equal to 1"),
        (
            {"start": {"date_time": "2026-05-01T09:00:00"}},
            "start.date_time: Value error, must include a UTC offset",
        ),
        (
            {"start": {"date_time": "2026-05-01T09:00:00Z", "time_zone": "Mars/Olympus"}},
            "unknown IANA time zone",
        ),
        ({"end": {"date": "2026-04-30"}}, "end.date must be after start.date"),
        ({"type": "appointment.moved"}, "type: unknown message type 'appointment.moved'"),
        ({"schema_version": 9}, "schema_version: 9 is not supported"),
        ({"attendees": [{"email": "no-at-sign"}]}, "attendees.0.email"),
    ],
)
def test_invalid_fields_are_named_with_the_reason(changes: dict[str, object], expected: str) -> None:
    """A malformed appointment is refused with an error naming the field and why."""
    with pytest.raises(m.InvalidMessage) as caught:
        m.decode(json.dumps(_valid(**changes)))
    assert expected in str(caught.value)


def test_message_id_is_required_on_the_wire() -> None:
    """Without a message id a redelivery could not be recognised, so the message is refused."""
    body = _valid()
    del body["message_id"]
    with pytest.raises(m.InvalidMessage, match="message_id: Field required"):
        m.decode(json.dumps(body))


def test_unknown_fields_are_ignored() -> None:
    """Producers may add optional fields without breaking calsync's consumers."""
    assert m.decode(json.dumps(_valid(colour="blue"))).TYPE == "appointment.created"


def test_not_json_is_refused_clearly() -> None:
    """Garbage bytes give a clear error, not a crash."""
    with pytest.raises(m.InvalidMessage, match="not valid JSON"):
        m.decode(b"\xff\x00garbage")


def test_messages_doc_is_current() -> None:
    """docs/messages.md matches the schemas (regenerate with `make docs`)."""
    assert gen_messages_doc.OUT.read_text() == gen_messages_doc.render()


@pytest.mark.parametrize(
    ("cls", "field"),
    [(m.GrantDisconnected, "since"), (m.GrantExpiring, "expires_at"), (m.CalendarProblem, "since")],
)
def test_every_timestamp_needs_a_utc_offset(cls: type[m.Message], field: str) -> None:
    """A timestamp without an offset is ambiguous, so it is refused with the field named."""
    example = cls(**{**gen_messages_doc.COMMON, **gen_messages_doc.EXAMPLES[cls]})
    body = json.loads(example.to_json())
    body[field] = "2026-03-02T08:15:00"
    with pytest.raises(m.InvalidMessage, match=f"{field}: Input should have timezone info"):
        m.decode(json.dumps(body))


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"title": "Ter\x00min"}, "title: Value error, contains a NUL character at position 3"),
        ({"owner_user_id": "u\x00"}, "owner_user_id: Value error, contains a NUL character"),
        ({"location": "K\ud800ln"}, "location: Input should be a valid string"),
        (
            {"attendees": [{"email": "a@b.c", "name": "E\x00"}]},
            "attendees.0.name: Value error, contains a NUL",
        ),
        ({"end": {"date": "2026-05-02", "time_zone": "Europe/Berlin\x00"}}, "end.time_zone"),
        ({"version": 2**31}, "version: Input should be less than or equal to 2147483647"),
        ({"version": 10**400}, "version: Input should be less than or equal to 2147483647"),
    ],
)
def test_values_the_database_cannot_store_are_refused_by_field(
    changes: dict[str, object], expected: str
) -> None:
    """A text with a NUL or a version beyond the database column is refused, naming the field."""
    with pytest.raises(m.InvalidMessage) as caught:
        m.decode(json.dumps(_valid(**changes)))
    assert expected in str(caught.value)


def test_nul_in_a_list_of_texts_is_refused() -> None:
    """A NUL inside one granted scope names the item."""
    example = m.GrantConnected(**{**gen_messages_doc.COMMON, **gen_messages_doc.EXAMPLES[m.GrantConnected]})
    body = json.loads(example.to_json())
    body["scopes"] = ["openid", "em\x00ail"]
    with pytest.raises(m.InvalidMessage, match="scopes: Value error, item 1 contains a NUL character"):
        m.decode(json.dumps(body))


@pytest.mark.parametrize("depth", [17, 1000, 100_000])
def test_deep_nesting_is_refused_without_parsing(depth: int) -> None:
    """A body nested deeper than any message is refused with the limit, not a recursion error."""
    body = json.dumps(_valid())[:-1] + ', "x": ' + "[" * depth + "]" * depth + "}"
    with pytest.raises(m.InvalidMessage, match="nested more than 16 levels deep"):
        m.decode(body)


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    """A title made of brackets is text, not structure."""
    assert m.decode(json.dumps(_valid(title="[" * 100 + "{" * 100))).TYPE == "appointment.created"


def test_oversized_body_is_refused_unread() -> None:
    """A body over 1 MiB is refused with its size and the limit."""
    body = json.dumps(_valid(description="x" * (m.MAX_BODY_BYTES + 1)))
    with pytest.raises(m.InvalidMessage, match=r"more than the limit of 1048576"):
        m.decode(body)


def test_non_standard_numbers_are_refused() -> None:
    """NaN and Infinity are not JSON, so a body using them is refused."""
    body = json.dumps(_valid())[:-1] + ', "x": NaN}'
    with pytest.raises(m.InvalidMessage, match="NaN is not a JSON number"):
        m.decode(body)


def test_unterminated_string_of_escaped_quotes_is_refused_as_not_json() -> None:
    """Half a megabyte of escaped quotes with no end is refused as invalid JSON (in linear time)."""
    with pytest.raises(m.InvalidMessage, match="not valid JSON: Unterminated string"):
        m.decode('{"title": "' + '\\"' * 250_000)
