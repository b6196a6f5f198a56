"""The message contract: every message calsync publishes or consumes, as versioned schemas.

This module is the one place that names message types, exchanges and routing keys; docs/messages.md
documents it for platform developers. Every message is JSON with an envelope (``message_id``,
``type``, ``schema_version``, ``occurred_at``) and flat payload fields. Readers are tolerant: unknown
fields are ignored, so producers may add optional fields without a new version. Validation errors
name the field and the reason. Input that could never be stored is refused the same way, before any
handler runs: a body over ``MAX_BODY_BYTES`` or nested deeper than ``MAX_NESTING`` (counted without
recursion), a NUL or unpaired surrogate in any text, an integer beyond its database column.

Pydantic models are used instead of plain dataclasses because they give exact, per-field validation
errors for input that other platform services produce.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from shared.jsonlimits import JsonRefused, loads_bounded, unstorable

# Exchanges (topic, durable) and their owners.
PLATFORM_EVENTS = "platform.events"  # published by other platform services; declared by us too
AUTH_EVENTS = "auth.events"
SYNC_EVENTS = "sync.events"
NOTIFIER_EVENTS = "notifier.events"
AUTH_RPC = "auth.rpc"  # direct: token requests from sync to auth

MAX_BODY_BYTES = 1024 * 1024  # a message body larger than this is refused unread
MAX_NESTING = 16  # the deepest message nests 3 levels (attendees); deeper bodies are refused unparsed
PG_INTEGER_MAX = 2**31 - 1  # sync.appointments.version is a PostgreSQL integer


class InvalidMessage(ValueError):
    """A message body that cannot be decoded or does not match its schema; says which field and why."""


def _new_id() -> str:
    return uuid.uuid4().hex


def _now() -> datetime:
    return datetime.now(UTC)


class _Storable(BaseModel):
    """Base of every model in the contract: each text value must be storable as PostgreSQL text."""

    model_config = ConfigDict(frozen=True, extra="ignore", allow_inf_nan=False)

    @field_validator("*")
    @classmethod
    def _storable_text(cls, value: Any) -> Any:
        if isinstance(value, str) and (reason := unstorable(value)) is not None:
            raise ValueError(reason)
        if isinstance(value, tuple):
            for index, item in enumerate(value):
                if isinstance(item, str) and (reason := unstorable(item)) is not None:
                    raise ValueError(f"item {index} {reason}")
        return value


class Message(_Storable):
    """Base of every message: the envelope fields and JSON encoding."""

    model_config = ConfigDict(frozen=True, extra="ignore", str_strip_whitespace=True, allow_inf_nan=False)

    TYPE: ClassVar[str]
    SCHEMA_VERSION: ClassVar[int] = 1
    EXCHANGE: ClassVar[str]
    ROUTING_KEY: ClassVar[str]  # "<producer>.<TYPE>" unless a class sets it (__pydantic_init_subclass__)

    message_id: str = Field(default_factory=_new_id, min_length=1, max_length=200)
    occurred_at: datetime = Field(default_factory=_now)

    @field_validator("occurred_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return _require_aware(value)

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        """A message's routing key is ``<producer>.<TYPE>`` (the producer names its exchange) unless
        the class names its own."""
        super().__pydantic_init_subclass__(**kwargs)
        if "TYPE" in cls.__dict__ and "ROUTING_KEY" not in cls.__dict__:
            cls.ROUTING_KEY = f"{cls.EXCHANGE.partition('.')[0]}.{cls.TYPE}"

    def to_json(self) -> bytes:
        body = {"type": self.TYPE, "schema_version": self.SCHEMA_VERSION}
        body.update(self.model_dump(mode="json"))
        return json.dumps(body, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, body: bytes | str) -> Message:
        """Decode ``body`` as this message type (or raise ``InvalidMessage``)."""
        message = decode(body)
        if not isinstance(message, cls):
            raise InvalidMessage(f"type: expected {cls.TYPE!r}, got {message.TYPE!r}")
        return message


def _require_aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("must include a UTC offset, e.g. 2026-03-01T09:00:00+01:00")
    return value


# --------------------------------------------------------------------------- platform: appointments


class EventTime(_Storable):
    """A start or end: ``date_time`` with an IANA ``time_zone``, or ``date`` alone for all-day."""

    date_time: datetime | None = None
    time_zone: str | None = None
    date: dt.date | None = None

    @field_validator("date_time")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        return None if value is None else _require_aware(value)

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone {value!r}") from None
        return value

    @model_validator(mode="after")
    def _one_form(self) -> EventTime:
        if (self.date_time is None) == (self.date is None):
            raise ValueError("give either date_time (with time_zone) or date (all-day), not both")
        if self.date_time is not None and self.time_zone is None:
            raise ValueError("time_zone is required with date_time")
        return self

    @property
    def all_day(self) -> bool:
        return self.date is not None


class Attendee(_Storable):
    """One invitee of an appointment (calsync does not send invitations)."""

    email: str = Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    name: str | None = Field(default=None, max_length=200)


class _AppointmentRef(Message):
    EXCHANGE: ClassVar[str] = PLATFORM_EVENTS

    appointment_id: str = Field(min_length=1, max_length=200)
    version: int = Field(
        ge=1,
        le=PG_INTEGER_MAX,
        description="Per-appointment version that grows with every change; older versions are ignored.",
    )
    owner_user_id: str = Field(min_length=1, max_length=200)
    account_id: str = Field(min_length=1, max_length=200)


class _AppointmentBody(_AppointmentRef):
    title: str = Field(min_length=1, max_length=1024)
    description: str | None = Field(default=None, max_length=8192)
    location: str | None = Field(default=None, max_length=1024)
    start: EventTime
    end: EventTime
    attendees: tuple[Attendee, ...] = ()
    status: Literal["confirmed", "tentative", "cancelled"] = "confirmed"

    @model_validator(mode="after")
    def _ordered(self) -> _AppointmentBody:
        if self.start.all_day != self.end.all_day:
            raise ValueError("start and end must both be all-day or both timed")
        if self.start.date is not None and self.end.date is not None:
            if self.end.date <= self.start.date:
                raise ValueError("end.date must be after start.date (the end date is exclusive)")
        elif self.start.date_time and self.end.date_time and self.end.date_time <= self.start.date_time:
            raise ValueError("end.date_time must be after start.date_time")
        return self


class AppointmentCreated(_AppointmentBody):
    """An appointment was booked on the platform."""

    TYPE: ClassVar[str] = "appointment.created"


class AppointmentUpdated(_AppointmentBody):
    """An appointment changed (any field); carries the whole new state."""

    TYPE: ClassVar[str] = "appointment.updated"


class AppointmentCancelled(_AppointmentRef):
    """An appointment was cancelled or deleted on the platform."""

    TYPE: ClassVar[str] = "appointment.cancelled"


# --------------------------------------------------------------------------- platform: users


class UserContactChanged(Message):
    """A platform user's contact details, published on creation and on every change."""

    TYPE: ClassVar[str] = "user.contact_changed"
    EXCHANGE: ClassVar[str] = PLATFORM_EVENTS
    ROUTING_KEY: ClassVar[str] = "platform.user.updated"

    user_id: str = Field(min_length=1, max_length=200)
    email: str = Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    name: str | None = Field(default=None, max_length=200)
    locale: str = Field(default="en", min_length=2, max_length=35)


class UserDeleted(Message):
    """A platform user was deleted: every service forgets everything about them."""

    TYPE: ClassVar[str] = "user.deleted"
    EXCHANGE: ClassVar[str] = PLATFORM_EVENTS

    user_id: str = Field(min_length=1, max_length=200)


# --------------------------------------------------------------------------- auth: grants

DisconnectReason = Literal["revoked", "account_deleted", "admin_policy", "security_block", "access_expired"]


class _GrantEvent(Message):
    EXCHANGE: ClassVar[str] = AUTH_EVENTS

    user_id: str
    grant_id: str


class GrantConnected(_GrantEvent):
    """A grant is usable: first connect, reconnect, recovery after failures, or a lifted suspension."""

    TYPE: ClassVar[str] = "grant.connected"

    cause: Literal["connected", "reconnected", "recovered", "suspension_lifted"]
    google_sub: str
    google_email: str | None = None
    account_changed: bool = False
    previous_google_email: str | None = None
    scopes: tuple[str, ...] = ()


class GrantDisconnected(_GrantEvent):
    """Google ended the grant; the user must reconnect. ``reason`` is as specific as Google allows."""

    TYPE: ClassVar[str] = "grant.disconnected"

    reason: DisconnectReason
    since: AwareDatetime
    google_email: str | None = None
    detected_by: Literal["refresh", "security_event", "api"] = "refresh"


class GrantSuspended(_GrantEvent):
    """Google disabled the account (Cross-Account Protection); ``hijacking`` means the mailbox is unsafe."""

    TYPE: ClassVar[str] = "grant.suspended"

    reason: Literal["security_block"] = "security_block"
    hijacking: bool = False
    since: AwareDatetime
    google_email: str | None = Field(
        default=None,
        description="The Google account's email; null when `hijacking`: that mailbox must not be used.",
    )


class GrantExpiring(_GrantEvent):
    """A time-limited grant ends soon (``expires_at``); reconnecting before then avoids a gap."""

    TYPE: ClassVar[str] = "grant.expiring"

    expires_at: AwareDatetime
    google_email: str | None = None


class GrantDeleted(_GrantEvent):
    """The connection was deleted on purpose (by the user, or because the user was deleted)."""

    TYPE: ClassVar[str] = "grant.deleted"

    cause: Literal["user_request", "user_deleted"] = "user_request"


class OperatorAlert(Message):
    """Something every user shares is broken (our OAuth client, or the disconnect circuit breaker)."""

    TYPE: ClassVar[str] = "operator.alert"
    EXCHANGE: ClassVar[str] = AUTH_EVENTS

    incident_id: str
    kind: Literal["app_config", "circuit_open", "circuit_closed"]
    error: str | None = None
    detail: str | None = None


# --------------------------------------------------------------------------- auth: token request/reply


class TokenRequested(Message):
    """sync asks auth for a usable access token; ``force_refresh`` after Google answered 401."""

    TYPE: ClassVar[str] = "token.requested"
    EXCHANGE: ClassVar[str] = AUTH_RPC

    user_id: str
    force_refresh: bool = False
    for_deleted_grant: str | None = Field(
        default=None,
        description=(
            "The id of a just-deleted grant whose watch channels sync must stop: auth answers from the"
            " grant's held revocation (docs/auth.md) instead of a live grant, and `no_grant` once it is"
            " revoked."
        ),
    )


class TokenReply(Message):
    """auth's answer to ``TokenRequested``, sent to the request's ``reply_to`` queue."""

    TYPE: ClassVar[str] = "token.reply"
    EXCHANGE: ClassVar[str] = ""
    ROUTING_KEY: ClassVar[str] = ""

    user_id: str
    status: Literal["token", "disconnected", "no_grant", "temporarily_unavailable"] = Field(
        description=(
            "The answer: `token` (use `access_token`), `disconnected` (the user must reconnect;"
            " see `reason`), `no_grant` (never connected), or `temporarily_unavailable`"
            " (ask again after `retry_after` seconds)."
        )
    )
    access_token: str | None = None
    expires_at: AwareDatetime | None = None
    reason: str | None = None
    retry_after: float | None = None

    @model_validator(mode="after")
    def _token_present(self) -> TokenReply:
        if (self.status == "token") != (self.access_token is not None):
            raise ValueError("access_token is required with status 'token' and only then")
        return self


# --------------------------------------------------------------------------- sync


class CalendarProblem(Message):
    """The chosen calendar cannot be written: gone or read-only, or a calendar permission was withdrawn."""

    TYPE: ClassVar[str] = "calendar.problem"
    EXCHANGE: ClassVar[str] = SYNC_EVENTS

    user_id: str
    problem: Literal["calendar_unavailable", "needs_consent"]
    calendar_id: str | None = None
    since: AwareDatetime


class CalendarSelected(Message):
    """The user chose a (new) destination calendar; ends a calendar-problem episode."""

    TYPE: ClassVar[str] = "calendar.selected"
    EXCHANGE: ClassVar[str] = SYNC_EVENTS

    user_id: str
    calendar_id: str


class ChannelsStopped(Message):
    """sync stopped every watch channel of a deleted grant (or gave up on them): auth may revoke it now.

    auth holds a deleted grant's revocation until this message or its hold timeout, whichever comes
    first, because stopping a channel at Google needs the grant's token."""

    TYPE: ClassVar[str] = "channels.stopped"
    EXCHANGE: ClassVar[str] = SYNC_EVENTS
    ROUTING_KEY: ClassVar[str] = "sync.channels.stopped"

    user_id: str
    grant_id: str
    stopped: int = Field(ge=0, description="How many channels Google confirmed stopped.")
    abandoned: int = Field(
        default=0, ge=0, description="Channels sync could not stop (they lapse at their expiration)."
    )


class _CalendarEventRef(Message):
    """Names one event of a user's destination calendar (the base of inbound sync's messages)."""

    EXCHANGE: ClassVar[str] = SYNC_EVENTS

    user_id: str
    calendar_id: str
    event_id: str


class CalendarEventChanged(_CalendarEventRef):
    """An event in the user's destination calendar was created or changed in Google (seen by
    inbound sync). Events sync wrote itself are not announced.

    ``appointment_id`` is set when the event is one of ours (it carries our private tag)."""

    TYPE: ClassVar[str] = "calendar.event.changed"
    ROUTING_KEY: ClassVar[str] = "sync.calendar.event.changed"

    start: EventTime | None = Field(default=None, description="The event's start (None if Google gave none).")
    end: EventTime | None = Field(
        default=None, description="The event's end, exclusive (None if Google gave none)."
    )
    all_day: bool = False
    busy: bool = Field(default=True, description="False when the event is marked free (`transparency`).")
    status: Literal["confirmed", "tentative"] = "confirmed"
    appointment_id: str | None = None


class CalendarEventDeleted(_CalendarEventRef):
    """An event sync had seen in the user's destination calendar was deleted in Google (a
    cancelled entry, or its absence from a full list). Deletions sync made itself are not announced."""

    TYPE: ClassVar[str] = "calendar.event.deleted"
    ROUTING_KEY: ClassVar[str] = "sync.calendar.event.deleted"

    appointment_id: str | None = None


class AppointmentExternalChange(_CalendarEventRef):
    """The user moved or deleted in Google the event sync wrote for an appointment, or it was
    rewritten without our private tag (``edited``).

    The platform stays the source of truth: sync does not change the appointment; the platform
    decides (accept the move, cancel, or publish the appointment again)."""

    TYPE: ClassVar[str] = "appointment.external_change"
    ROUTING_KEY: ClassVar[str] = "sync.appointment.external_change"

    appointment_id: str
    change: Literal["moved", "deleted", "edited"]
    start: EventTime | None = Field(default=None, description="The event's new start (None when deleted).")
    end: EventTime | None = Field(default=None, description="The event's new end (None when deleted).")


class AppointmentsBackfillRequested(Message):
    """sync asks the platform to publish again the user's appointments starting at or after ``since``.

    Sent on a user's first connection and after they switched to another Google account, so that
    appointments booked before calsync knew them reach the calendar. The platform answers by
    publishing ``appointment.created`` (with each appointment's current ``version``) again; sync
    ignores versions it already holds, so a repeated request duplicates nothing.
    """

    TYPE: ClassVar[str] = "appointments.backfill_requested"
    EXCHANGE: ClassVar[str] = SYNC_EVENTS

    user_id: str = Field(min_length=1, max_length=200)
    since: AwareDatetime


# --------------------------------------------------------------------------- notifier


class _NotificationEvent(Message):
    EXCHANGE: ClassVar[str] = NOTIFIER_EVENTS

    notification_id: str
    user_id: str | None = None
    kind: Literal["alert", "reminder", "reconnected", "expiring", "operator"]
    reason: str | None = None
    episode_id: str | None = None


class NotificationSent(_NotificationEvent):
    """An email was accepted by the SMTP server; the platform may show an in-app banner too."""

    TYPE: ClassVar[str] = "notification.sent"


class NotificationFailed(_NotificationEvent):
    """An email could not be delivered (``permanent``: rejected; otherwise given up after retries)."""

    TYPE: ClassVar[str] = "notification.failed"

    error: str
    permanent: bool


ALL_MESSAGES: tuple[type[Message], ...] = (
    AppointmentCreated,
    AppointmentUpdated,
    AppointmentCancelled,
    UserContactChanged,
    UserDeleted,
    GrantConnected,
    GrantDisconnected,
    GrantSuspended,
    GrantExpiring,
    GrantDeleted,
    OperatorAlert,
    TokenRequested,
    TokenReply,
    CalendarProblem,
    CalendarSelected,
    ChannelsStopped,
    CalendarEventChanged,
    CalendarEventDeleted,
    AppointmentExternalChange,
    AppointmentsBackfillRequested,
    NotificationSent,
    NotificationFailed,
)
BY_TYPE: dict[str, type[Message]] = {m.TYPE: m for m in ALL_MESSAGES}


def decode(body: bytes | str) -> Message:
    """Decode any contract message from JSON, choosing the class by its ``type`` field."""
    try:
        data: Any = loads_bounded(body, max_bytes=MAX_BODY_BYTES, max_depth=MAX_NESTING)
    except JsonRefused as exc:
        raise InvalidMessage(str(exc)) from None
    if not isinstance(data, dict):
        raise InvalidMessage("body must be a JSON object")
    kind = data.get("type")
    cls = BY_TYPE.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise InvalidMessage(f"type: unknown message type {kind!r}")
    problems = [f"{name}: Field required" for name in ("message_id", "occurred_at") if name not in data]
    version = data.get("schema_version", 1)
    if not isinstance(version, int) or version > cls.SCHEMA_VERSION or version < 1:
        raise InvalidMessage(
            f"schema_version: {version!r} is not supported for {kind!r} (max {cls.SCHEMA_VERSION})"
        )
    try:
        message = cls.model_validate(data)
    except ValidationError as exc:
        problems.append(describe(exc))
    if problems:
        raise InvalidMessage("; ".join(problems))
    return message


def describe(exc: ValidationError) -> str:
    """One line per problem: ``field.path: reason``."""
    lines = []
    for err in exc.errors(include_url=False, include_input=False):
        where = ".".join(str(p) for p in err["loc"]) or "body"
        lines.append(f"{where}: {err['msg']}")
    return "; ".join(lines)
