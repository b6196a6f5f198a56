"""Writes docs/messages.md from the contract in shared/messages.py (``make docs``).

The field tables and examples come from the schemas themselves, so the document cannot drift from
the code; tests/unit/shared/test_messages_doc.py fails when it is out of date.
"""

from __future__ import annotations

import json
import sys
import typing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic.fields import FieldInfo

from shared import messages as m
from shared import topology as t

OUT = Path(__file__).resolve().parent.parent / "docs" / "messages.md"
WHEN = datetime(2026, 3, 2, 8, 15, tzinfo=UTC)

FIELD_NOTES = {
    "message_id": "Unique id of this message; consumers drop a second delivery with the same id.",
    "occurred_at": "When the change happened (RFC 3339 with offset).",
    "type": "Message type (see the heading).",
    "schema_version": "Schema version of this type; readers accept versions up to the one documented.",
    "appointment_id": "The platform's appointment id.",
    "version": "Per-appointment version that grows with every change; older versions are ignored.",
    "owner_user_id": "The platform user whose calendar the appointment belongs in.",
    "account_id": "The platform sub-account.",
    "title": "Shown as the event title.",
    "description": "Event description (plain text).",
    "location": "Event location.",
    "start": "`{date_time, time_zone}` for timed appointments, `{date}` for all-day ones.",
    "end": "Same form as `start`; for all-day appointments the end date is exclusive.",
    "attendees": "`[{email, name}]`; invitations are not sent by calsync.",
    "status": "For appointments: confirmed, tentative or cancelled; for calendar events: confirmed or tentative.",
    "user_id": "The platform user id.",
    "email": "Where the user reads email.",
    "name": "Display name used in greetings.",
    "locale": "BCP 47 language tag; emails and pages are German for `de*`, English otherwise.",
    "grant_id": "auth's id for the user's Google connection; stable across reconnects.",
    "cause": "Why this happened (see the allowed values).",
    "google_sub": "Google's stable account id (`sub`).",
    "google_email": "The Google account's email, when known and safe to use.",
    "account_changed": "True when a reconnect used a different Google account than before.",
    "previous_google_email": "The Google account used before, when `account_changed`.",
    "scopes": "Scopes Google granted.",
    "reason": "Machine-readable reason code (see the allowed values).",
    "since": "When the current state began.",
    "detected_by": "How auth learnt it: a failed refresh, a Google security event, or an API call.",
    "hijacking": "Google suspects the account was hijacked: never write to its mailbox.",
    "expires_at": "When access ends.",
    "incident_id": "Stable per incident, so an alert can be sent once.",
    "kind": "Category (see the allowed values).",
    "error": "OAuth error code or delivery error.",
    "detail": "Human-readable detail for operators.",
    "force_refresh": "Ask for a new access token even if the cached one looks valid (after a 401).",
    "access_token": "The access token (only with status `token`); never log it.",
    "for_deleted_grant": "Set to a just-deleted grant's id when the token is needed to stop its watch channels.",
    "stopped": "How many watch channels Google confirmed stopped.",
    "abandoned": "Watch channels that could not be stopped; they lapse at their expiration.",
    "retry_after": "Seconds to wait before asking again (status `temporarily_unavailable`).",
    "problem": "What is wrong with the destination calendar.",
    "calendar_id": "Google calendar id.",
    "event_id": "Google's event id in that calendar.",
    "all_day": "True for an all-day event (`start`/`end` carry `date`).",
    "busy": "False when the event is marked free in Google (`transparency: transparent`).",
    "change": "What the user did to our event in Google: moved (new times), deleted, or edited.",
    "notification_id": "The notifier's id for this email.",
    "episode_id": "The episode (one disconnection or calendar problem) the email belongs to.",
    "permanent": "True when the email can never be sent (the mail server rejected it, or there is no usable address); it is not retried.",
}

# What each message is for, by the service that publishes it.
HANDLING: dict[str, dict[str, str]] = {
    "platform": {
        "appointment.created": "sync stores it (newest `version` wins) and writes it to the user's chosen Google Calendar; while the user is disconnected it is kept and replayed after reconnecting.",
        "appointment.updated": "As `appointment.created`; the message carries the whole new state.",
        "appointment.cancelled": "sync removes the Google event (or never writes it).",
        "user.contact_changed": "notifier keeps the address, name and language for alerts.",
        "user.deleted": "auth revokes and deletes the grant, sync stops writing for the user and drops what it keeps about them after `PENDING_RETENTION_DAYS`, notifier forgets the contact and cancels every pending email.",
    },
    "auth": {
        "grant.connected": "notifier ends an open episode (and may send a short confirmation); sync resolves the primary calendar if none is chosen, resumes writing and replays waiting appointments (upcoming first), and on a first connection or a new Google account asks the platform for a backfill.",
        "grant.disconnected": "notifier emails the user once per episode with a reconnect link and bounded reminders; sync pauses writes and keeps them.",
        "grant.suspended": "As `grant.disconnected`; for `hijacking` the Google mailbox is never used.",
        "grant.expiring": "notifier sends a heads-up with a reconnect link.",
        "grant.deleted": "notifier ends any episode without emailing; sync stops writing for the user and drops their pending appointments after `PENDING_RETENTION_DAYS`.",
        "operator.alert": "notifier emails the operator address once per incident; users are never emailed for these.",
        "token.reply": "The caller uses the token or acts on the status.",
    },
    "sync": {
        "token.requested": "auth answers on `reply_to` with `token.reply` (same `correlation_id`). Refresh tokens never leave auth.",
        "calendar.problem": "notifier emails the user once per episode (the calendar is gone, read-only, or a permission was withdrawn).",
        "calendar.selected": "notifier ends a calendar-problem episode.",
        "channels.stopped": "auth revokes the deleted grant's token now instead of at the end of its hold.",
        "calendar.event.changed": "For the platform (e.g. the user's busy times); no calsync service consumes it, and it is dropped if the platform has bound no queue.",
        "calendar.event.deleted": "For the platform, as `calendar.event.changed`.",
        "appointment.external_change": "For the platform, which decides what the change means for the appointment (sync changes nothing); dropped if the platform has bound no queue.",
        "appointments.backfill_requested": "The platform publishes `appointment.created` again for the user's appointments starting at or after `since` (current versions); no calsync service consumes it, and it is dropped if the platform has bound no queue.",
    },
    "notifier": {
        "notification.sent": "For the platform, e.g. to show an in-app banner.",
        "notification.failed": "For the platform and operators.",
    },
}
PUBLISHER = {kind: publisher for publisher, handled in HANDLING.items() for kind in handled}

TIMED = {"date_time": "2026-03-02T09:00:00+01:00", "time_zone": "Europe/Berlin"}
TIMED_END = {"date_time": "2026-03-02T10:00:00+01:00", "time_zone": "Europe/Berlin"}
MOVED_LATER = {
    "start": {**TIMED, "date_time": "2026-03-02T11:00:00+01:00"},
    "end": {**TIMED_END, "date_time": "2026-03-02T12:00:00+01:00"},
}
COMMON: dict[str, Any] = {"message_id": "5f0c3c1e8e7b4d1c9d5b0a6a3e2f1b7c", "occurred_at": WHEN}
APPT: dict[str, Any] = {
    "appointment_id": "apt-4711",
    "version": 3,
    "owner_user_id": "user-42",
    "account_id": "acc-7",
}
EXAMPLES: dict[type[m.Message], dict[str, Any]] = {
    m.AppointmentCreated: {
        **APPT,
        "title": "Beratungsgespräch",
        "description": "Erstberatung",
        "location": "Büro Köln",
        "start": TIMED,
        "end": TIMED_END,
        "attendees": [{"email": "kunde@example.com", "name": "Erika Muster"}],
    },
    m.AppointmentUpdated: {
        **APPT,
        "version": 4,
        "title": "Team day",
        "start": {"date": "2026-03-05"},
        "end": {"date": "2026-03-06"},
    },
    m.AppointmentCancelled: {**APPT, "version": 5},
    m.UserContactChanged: {
        "user_id": "user-42",
        "email": "anna@example.com",
        "name": "Anna Schmidt",
        "locale": "de-DE",
    },
    m.UserDeleted: {"user_id": "user-42"},
    m.GrantConnected: {
        "user_id": "user-42",
        "grant_id": "g-1",
        "cause": "reconnected",
        "google_sub": "1098765",
        "google_email": "anna@gmail.com",
        "scopes": ["openid", "email"],
    },
    m.GrantDisconnected: {
        "user_id": "user-42",
        "grant_id": "g-1",
        "reason": "revoked",
        "since": WHEN,
        "google_email": "anna@gmail.com",
    },
    m.GrantSuspended: {"user_id": "user-42", "grant_id": "g-1", "hijacking": True, "since": WHEN},
    m.GrantExpiring: {
        "user_id": "user-42",
        "grant_id": "g-1",
        "expires_at": datetime(2026, 3, 9, tzinfo=UTC),
    },
    m.GrantDeleted: {"user_id": "user-42", "grant_id": "g-1", "cause": "user_request"},
    m.OperatorAlert: {
        "incident_id": "inc-20260302-invalid_client",
        "kind": "app_config",
        "error": "invalid_client",
        "detail": "The OAuth client was not found.",
    },
    m.TokenRequested: {"user_id": "user-42", "force_refresh": False},
    m.TokenReply: {"user_id": "user-42", "status": "disconnected", "reason": "revoked"},
    m.CalendarProblem: {
        "user_id": "user-42",
        "problem": "calendar_unavailable",
        "calendar_id": "team@group.calendar.google.com",
        "since": WHEN,
    },
    m.CalendarSelected: {"user_id": "user-42", "calendar_id": "anna@gmail.com"},
    m.ChannelsStopped: {"user_id": "user-42", "grant_id": "g-7f3a", "stopped": 1},
    m.CalendarEventChanged: {
        "user_id": "user-42",
        "calendar_id": "anna@gmail.com",
        "event_id": "5pqk0s2l3m4n5o6p7q8r9s0t1u",
        "start": TIMED,
        "end": TIMED_END,
        "all_day": False,
        "busy": True,
        "status": "confirmed",
    },
    m.CalendarEventDeleted: {
        "user_id": "user-42",
        "calendar_id": "anna@gmail.com",
        "event_id": "5pqk0s2l3m4n5o6p7q8r9s0t1u",
    },
    m.AppointmentExternalChange: {
        "user_id": "user-42",
        "appointment_id": "apt-4711",
        "calendar_id": "anna@gmail.com",
        "event_id": "calsync0apt4711",
        "change": "moved",
        **MOVED_LATER,
    },
    m.AppointmentsBackfillRequested: {"user_id": "user-42", "since": WHEN},
    m.NotificationSent: {
        "notification_id": "n-1",
        "user_id": "user-42",
        "kind": "alert",
        "reason": "revoked",
        "episode_id": "e-1",
    },
    m.NotificationFailed: {
        "notification_id": "n-2",
        "user_id": "user-42",
        "kind": "reminder",
        "reason": "revoked",
        "episode_id": "e-1",
        "error": "550 mailbox unavailable",
        "permanent": True,
    },
}

INTRO = """# Message contract

Generated from `shared/messages.py` by `make docs`; do not edit by hand. The same contract in
AsyncAPI 3.0, for tools and code generators, is [asyncapi.yaml](asyncapi.yaml) (also generated); the
HTTP routes of the services are described in OpenAPI 3.1 in [openapi.yaml](openapi.yaml).

Every message is a persistent AMQP message with `content_type: application/json`, the AMQP
`message_id` and `type` properties set, and a JSON body: the envelope fields `message_id`, `type`,
`schema_version` and `occurred_at`, followed by the payload fields. Timestamps are RFC 3339 with a UTC
offset.

What every consumer may rely on:

- **At least once.** A message can arrive more than once (after a crash or a lost confirm); calsync's
  consumers record `message_id` in the same transaction as the effect and ignore repeats. Do the same.
- **Tolerant reading.** Unknown fields are ignored, so fields may be added without a new version.
  A breaking change raises `schema_version`.
- **No global order.** Messages about one user can overtake each other (retries, several replicas);
  use `version` (appointments) and `since`/`occurred_at` (grants) to decide what is current.
- **Nothing secret.** No refresh token, authorization code, client secret or signed link travels in
  a message; the one exception is `token.reply`, which carries a short-lived access token to sync.
- **Bad input is parked, not lost.** A message that cannot be decoded or validated goes to the
  consuming queue's dead-letter queue `<queue>.dead` with the reason in the `x-calsync-reason`
  header (e.g. `invalid message: start: give either date_time (with time_zone) or date (all-day), not both`).
  This happens on the first delivery, without retries, also for a body over 1 MiB, nesting deeper
  than 16 levels, a NUL character or an unpaired surrogate in any text, and a `version` above
  2147483647 (the database column).
- **Who published it.** Set the AMQP `user_id` property to your broker user (RabbitMQ checks it);
  platform services publish as `calsync-platform`. With publisher verification on, a message from
  any other broker user is dead-lettered (`untrusted publisher '<user_id>' for <type>`); see
  docs/security.md.

## Exchanges

All exchanges are durable and have no arguments, so a platform service declaring the same exchange
gets no conflict. Platform services publish appointment and user messages to `platform.events`.

| Exchange | Type | Published by | Bound queues (routing keys) |
|---|---|---|---|
"""


def _type_name(annotation: Any) -> str:
    text = (
        repr(annotation)
        .replace("typing.", "")
        .replace("shared.messages.", "")
        .replace("datetime.", "")
        .replace("pydantic.types.AwareDatetime", "datetime")
    )
    text = text.replace("<class '", "").replace("'>", "")
    if typing.get_origin(annotation) is typing.Literal:
        return " \\| ".join(f"`{a}`" for a in typing.get_args(annotation))
    return "`" + text.replace("|", "or") + "`"


def _field_rows(cls: type[m.Message]) -> list[str]:
    rows = [
        "| Field | Type | Required | Meaning |",
        "|---|---|---|---|",
        "| `type` | `str` | yes | `" + cls.TYPE + "` |",
        "| `schema_version` | `int` | no (1) | " + FIELD_NOTES["schema_version"] + " |",
    ]
    for name, info in cls.model_fields.items():
        rows.append(
            f"| `{name}` | {_type_name(info.annotation)} | {_required(info)} | {info.description or FIELD_NOTES.get(name, '')} |"
        )
    return rows


def _required(info: FieldInfo) -> str:
    if info.is_required() or info.default_factory is not None:
        return "yes"
    return f"no (`{json.dumps(info.default, default=str)}`)"


def _exchanges() -> list[str]:
    rows = []
    owners = {
        m.PLATFORM_EVENTS: "other platform services",
        m.AUTH_EVENTS: "auth",
        m.SYNC_EVENTS: "sync",
        m.NOTIFIER_EVENTS: "notifier",
        m.AUTH_RPC: "sync (requests)",
        t.RETRY_EXCHANGE: "calsync (delays)",
        t.DEAD_EXCHANGE: "calsync (dead letters)",
    }
    for name, kind in t.EXCHANGES.items():
        bound = "; ".join(
            f"`{q.name}` ({', '.join(q.routing_keys)})" for q in t.QUEUES.values() if q.exchange == name
        )
        rows.append(f"| `{name}` | {kind} | {owners[name]} | {bound or '-'} |")
    return rows


def render() -> str:
    parts = [INTRO, "\n".join(_exchanges()), "\n\n## Messages\n"]
    for cls in m.ALL_MESSAGES:
        producer = PUBLISHER[cls.TYPE]
        handling = HANDLING[producer][cls.TYPE]
        example = cls(**{**COMMON, **EXAMPLES[cls]})
        body = json.dumps(json.loads(example.to_json()), indent=2, ensure_ascii=False)
        route = (
            f"exchange `{cls.EXCHANGE}`, routing key `{cls.ROUTING_KEY}`"
            if cls.EXCHANGE
            else "default exchange, routing key = the request's `reply_to`"
        )
        parts.append(
            f"\n### `{cls.TYPE}` (schema version {cls.SCHEMA_VERSION})\n\n"
            f"{(cls.__doc__ or '').strip()}\n\n"
            f"- Published by **{producer}** on {route}.\n- What calsync does with it: {handling}\n\n"
            + "\n".join(_field_rows(cls))
            + f"\n\nExample:\n\n```json\n{body}\n```\n"
        )
    return "".join(parts)


def write_or_check(out: Path, text: str) -> None:
    """Write ``text`` to ``out``; with ``--check`` only exit non-zero if ``out`` differs."""
    if "--check" in sys.argv:
        sys.exit(0 if out.read_text() == text else f"{out.name} is out of date: run `make docs`")
    out.write_text(text)
    print(f"wrote {out}")


if __name__ == "__main__":
    write_or_check(OUT, render())
