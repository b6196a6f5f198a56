"""The backfill request sync publishes for the platform: documented, decodable, and deliberately
optional to route (no calsync service consumes it)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from shared import messages as m
from shared import topology


def test_the_backfill_request_round_trips_and_needs_an_aware_since() -> None:
    """The platform reads user_id and since exactly as sync wrote them; a naive time is refused."""
    since = datetime(2026, 3, 2, 8, 15, tzinfo=UTC)
    request = m.AppointmentsBackfillRequested(user_id="user-42", since=since)
    decoded = m.decode(request.to_json())
    assert isinstance(decoded, m.AppointmentsBackfillRequested) and decoded.since == since
    assert (request.EXCHANGE, request.ROUTING_KEY) == (m.SYNC_EVENTS, "sync.appointments.backfill_requested")
    body = json.loads(request.to_json())
    with pytest.raises(m.InvalidMessage, match="since"):
        m.decode(json.dumps({**body, "since": "2026-03-02T08:15:00"}))


def test_only_the_backfill_key_is_optional_on_sync_events() -> None:
    """An unbound backfill request is dropped by design; a calendar problem must still be routable."""
    assert not topology.routing_required(m.SYNC_EVENTS, m.AppointmentsBackfillRequested.ROUTING_KEY)
    assert topology.routing_required(m.SYNC_EVENTS, m.CalendarProblem.ROUTING_KEY)
    assert not topology.routing_required(m.NOTIFIER_EVENTS, "notifier.notification.sent")
