"""Calendar v3 contract: what our client relies on, checked against the emulator and (with
`-m google_live`) against real Google (docs/google.md §6-10)."""

from __future__ import annotations

from typing import Any

import pytest

from shared.google.calendar import GoogleApiError, classify

from .conftest import Target


def _event(event_id: str, summary: str = "Appointment", **extra: Any) -> dict[str, Any]:
    return {
        "id": event_id,
        "summary": summary,
        "start": {"dateTime": "2031-03-10T09:00:00Z"},
        "end": {"dateTime": "2031-03-10T09:30:00Z"},
        **extra,
    }


async def _error(awaitable: Any) -> GoogleApiError:
    with pytest.raises(GoogleApiError) as info:
        await awaitable
    return info.value


async def test_primary_resolves_to_a_concrete_calendar(target: Target) -> None:
    """calendarList.get("primary") names the user's own calendar with role owner."""
    entry = await target.calendar.calendar_get(target.token, "primary")
    assert entry["primary"] is True and entry["accessRole"] == "owner" and "@" in entry["id"]


async def test_calendar_list_writer_filter(target: Target) -> None:
    """The picker list with minAccessRole=writer only holds writable calendars."""
    page = await target.calendar.calendar_list(target.token, min_access_role="writer")
    assert page["items"] and all(i["accessRole"] in ("writer", "owner") for i in page["items"])


async def test_insert_get_roundtrip_keeps_id_and_etag(target: Target) -> None:
    """An event inserted with our id comes back by that id with the same etag and private tag."""
    event_id = target.new_id()
    tag = {"private": {"appt": "a-1", "rev": "1"}}
    created = await target.calendar.events_insert(
        target.token, target.calendar_id, _event(event_id, extendedProperties=tag)
    )
    fetched = await target.calendar.events_get(target.token, target.calendar_id, event_id)
    assert fetched is not None and created["id"] == event_id == fetched["id"]
    assert fetched["etag"] == created["etag"] and fetched["extendedProperties"]["private"]["appt"] == "a-1"
    assert (
        await target.calendar.events_get(target.token, target.calendar_id, event_id, created["etag"]) is None
    )


async def test_invalid_client_id_is_bad_request(target: Target) -> None:
    """An id outside base32hex (uppercase, hyphens) is a 400."""
    err = await _error(target.calendar.events_insert(target.token, target.calendar_id, _event("Bad-ID-1234")))
    assert err.status == 400 and classify(err) == "bad_request"


async def test_duplicate_id_even_after_delete(target: Target) -> None:
    """A used id gives 409 duplicate, also after the event was deleted; deleting twice gives 410."""
    event_id = target.new_id()
    await target.calendar.events_insert(target.token, target.calendar_id, _event(event_id))
    err = await _error(target.calendar.events_insert(target.token, target.calendar_id, _event(event_id)))
    assert classify(err) == "duplicate"
    await target.calendar.events_delete(target.token, target.calendar_id, event_id)
    cancelled = await target.calendar.events_get(target.token, target.calendar_id, event_id)
    assert cancelled is not None and cancelled["status"] == "cancelled"
    err = await _error(target.calendar.events_insert(target.token, target.calendar_id, _event(event_id)))
    assert classify(err) == "duplicate"
    err = await _error(target.calendar.events_delete(target.token, target.calendar_id, event_id))
    assert (err.status, classify(err)) == (410, "gone")


async def test_unknown_event_is_not_found(target: Target) -> None:
    """Getting or deleting an event that never existed is 404 notFound."""
    missing = target.new_id()
    for call in (target.calendar.events_get, target.calendar.events_delete):
        err = await _error(call(target.token, target.calendar_id, missing))
        assert (err.status, err.reason, classify(err)) == (404, "notFound", "not_found")


async def test_stale_etag_is_precondition_failed(target: Target) -> None:
    """A write with an old If-Match etag is 412; with the current etag it succeeds."""
    event_id = target.new_id()
    first = await target.calendar.events_insert(target.token, target.calendar_id, _event(event_id))
    second = await target.calendar.events_patch(
        target.token, target.calendar_id, event_id, {"summary": "Moved"}, if_match=first["etag"]
    )
    assert second["etag"] != first["etag"]
    err = await _error(
        target.calendar.events_update(
            target.token, target.calendar_id, event_id, _event(event_id), if_match=first["etag"]
        )
    )
    assert (err.status, classify(err)) == (412, "precondition_failed")
    err = await _error(
        target.calendar.events_delete(target.token, target.calendar_id, event_id, first["etag"])
    )
    assert classify(err) == "precondition_failed"


async def test_patch_merges_private_properties(target: Target) -> None:
    """Patch merges private keys and deletes the ones set to null; update replaces the event."""
    event_id = target.new_id()
    tag = {"private": {"appt": "a-2", "rev": "1", "old": "x"}}
    await target.calendar.events_insert(
        target.token, target.calendar_id, _event(event_id, extendedProperties=tag)
    )
    patched = await target.calendar.events_patch(
        target.token,
        target.calendar_id,
        event_id,
        {"extendedProperties": {"private": {"rev": "2", "old": None}}},
    )
    assert patched["extendedProperties"]["private"] == {"appt": "a-2", "rev": "2"}
    replaced = await target.calendar.events_update(
        target.token, target.calendar_id, event_id, _event(event_id, "Replaced")
    )
    assert replaced["summary"] == "Replaced" and "extendedProperties" not in replaced


async def test_full_then_incremental_sync(target: Target) -> None:
    """Paging ends with nextSyncToken; the token then returns exactly later changes, deletions included."""
    ids = [target.new_id() for _ in range(3)]
    for event_id in ids:
        await target.calendar.events_insert(target.token, target.calendar_id, _event(event_id))
    pages = [p async for p in target.calendar.events_pages(target.token, target.calendar_id, max_results=2)]
    assert all("nextPageToken" in p and "nextSyncToken" not in p for p in pages[:-1])
    assert "nextSyncToken" in pages[-1] and len(pages) >= 2
    seen = {item["id"] for p in pages for item in p["items"]}
    assert set(ids) <= seen
    await target.calendar.events_patch(target.token, target.calendar_id, ids[0], {"summary": "Changed"})
    await target.calendar.events_delete(target.token, target.calendar_id, ids[1])
    changes = [
        p
        async for p in target.calendar.events_pages(
            target.token, target.calendar_id, sync_token=pages[-1]["nextSyncToken"]
        )
    ]
    changed = {item["id"]: item for p in changes for item in p["items"]}
    assert changed[ids[0]]["summary"] == "Changed" and changed[ids[1]]["status"] == "cancelled"
    assert ids[2] not in changed and "nextSyncToken" in changes[-1]


async def test_private_property_filter(target: Target) -> None:
    """privateExtendedProperty=key=value lists only events carrying that tag."""
    tagged, other = target.new_id(), target.new_id()
    await target.calendar.events_insert(
        target.token, target.calendar_id, _event(tagged, extendedProperties={"private": {"appt": tagged}})
    )
    await target.calendar.events_insert(target.token, target.calendar_id, _event(other))
    page = await target.calendar.events_list(
        target.token, target.calendar_id, private_extended_property=f"appt={tagged}"
    )
    assert [item["id"] for item in page["items"]] == [tagged]


async def test_sync_token_forbids_time_min(target: Target) -> None:
    """timeMin together with syncToken is a 400."""
    page = await target.calendar.events_list(target.token, target.calendar_id, max_results=2500)
    while "nextPageToken" in page:
        page = await target.calendar.events_list(
            target.token, target.calendar_id, page_token=page["nextPageToken"], max_results=2500
        )
    err = await _error(
        target.calendar.events_list(
            target.token,
            target.calendar_id,
            sync_token=page["nextSyncToken"],
            time_min="2030-01-01T00:00:00Z",
        )
    )
    assert (err.status, classify(err)) == (400, "bad_request")


async def test_invalidated_sync_token_needs_full_sync(target: Target) -> None:
    """An invalidated sync token answers 410 fullSyncRequired."""
    emu = target.emu()
    page = await target.calendar.events_list(target.token, target.calendar_id)
    emu.invalidate_sync_tokens(target.calendar_id)
    err = await _error(
        target.calendar.events_list(target.token, target.calendar_id, sync_token=page["nextSyncToken"])
    )
    assert (err.status, err.reason, classify(err)) == (410, "fullSyncRequired", "sync_token_invalid")


async def test_watch_and_stop(target: Target) -> None:
    """watch returns a channel (expiration as a string of ms); stop accepts it once."""
    address = target.watch_address
    if address is None:
        target.emu().drop_pushes(True)  # nobody listens at the placeholder address
        address = "https://sync.example/push"
    channel_id = target.new_id()
    channel = await target.calendar.events_watch(
        target.token, target.calendar_id, channel_id, address, "secret-token", ttl_seconds=600
    )
    assert channel["kind"] == "api#channel" and channel["id"] == channel_id and channel["resourceId"]
    assert int(channel["expiration"]) > 0
    await target.calendar.channels_stop(target.token, channel_id, channel["resourceId"])


async def test_invalid_token_is_auth(target: Target) -> None:
    """A bogus access token is 401 authError, classified auth."""
    err = await _error(target.calendar.calendar_get("ya29.invalid", "primary"))
    assert (err.status, classify(err)) == (401, "auth")
