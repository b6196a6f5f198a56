"""What goes into one email: recipient, language, template topic, template facts and list headers.

Pure: works on the job, episode and contact rows the delivery use case loaded; no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from services.notifier.domain.language import Language, format_date, language
from services.notifier.domain.stop_links import stop_link

EPISODE_KINDS = ("alert", "reminder")
CALENDAR_SECTION = "#calendar"  # the settings page's Calendar section (auth: templates/_calendar.html)


@dataclass(frozen=True)
class EmailSettings:
    """The configured facts every email needs (built from the config in the composition root)."""

    product_name: str
    operator_email: str
    operator_locale: str
    reminder_count: int
    stop_page_url: str
    link_secret: str = field(repr=False)


@dataclass(frozen=True)
class Recipient:
    address: str
    name: str | None
    lang: Language
    source: str  # platform | google | operator


@dataclass(frozen=True)
class Draft:
    topic: str
    context: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def unwanted(job: Mapping[str, Any], episode: Mapping[str, Any] | None) -> str | None:
    """Why a claimed job must not be sent any more (the episode ended, or reminders were stopped)."""
    if job["kind"] not in EPISODE_KINDS or episode is None:
        return None
    if episode["ended_at"] is not None:
        return "episode ended"
    if job["kind"] == "reminder" and episode["reminders_stopped_at"] is not None:
        return "reminders stopped by the user"
    return None


def choose_recipient(
    *, contact_email: str | None, google_email: str | None, hijack_reported: bool
) -> tuple[str, str] | None:
    """Where to send: the platform address; else the Google address, never for a hijacked account."""
    if contact_email:
        return contact_email, "platform"
    if google_email and not hijack_reported:
        return google_email, "google"
    return None


def recipient(
    job: Mapping[str, Any],
    episode: Mapping[str, Any] | None,
    contact: Mapping[str, Any] | None,
    *,
    hijack_reported: bool,
    settings: EmailSettings,
) -> Recipient | None:
    """The platform address; else the Google address (never for a hijacked account); operators apart."""
    if job["kind"] == "operator":
        if not settings.operator_email:
            return None
        return Recipient(settings.operator_email, None, language(settings.operator_locale), "operator")
    choice = choose_recipient(
        contact_email=contact["email"] if contact else None,
        google_email=_google_email(job, episode),
        hijack_reported=hijack_reported,
    )
    if choice is None:
        return None
    lang = language(contact["locale"] if contact else None)
    return Recipient(choice[0], contact["name"] if contact else None, lang, choice[1])


def _google_email(job: Mapping[str, Any], episode: Mapping[str, Any] | None) -> str | None:
    data = job["data"] or {}
    if job["kind"] in EPISODE_KINDS and episode is not None:
        value = episode["google_email"]
    else:
        value = data.get("google_email")
    return value if isinstance(value, str) else None


def draft(
    job: Mapping[str, Any],
    episode: Mapping[str, Any] | None,
    to: Recipient,
    *,
    link_url: str | None,
    settings: EmailSettings,
    hijack_reported: bool,
) -> Draft:
    """Template topic, facts and extra headers for this job."""
    google_email = None if hijack_reported else _google_email(job, episode)
    context: dict[str, Any] = {
        "product": settings.product_name,
        "name": to.name,
        "google_email": google_email,
        "link_url": link_url,
    }
    if job["kind"] in EPISODE_KINDS:
        assert episode is not None
        return _episode_draft(job, episode, to.lang, context, settings)
    return _single_draft(job, to.lang, context)


def _single_draft(job: Mapping[str, Any], lang: Language, context: dict[str, Any]) -> Draft:
    """An email outside any episode: to the operator, the heads-up before expiry, "connected again"."""
    kind, data = job["kind"], job["data"] or {}
    if kind == "operator":
        facts = {key: data.get(key) for key in ("incident_id", "error", "detail")}
        return Draft("operator", {**context, "operator": True, "alert_kind": job["reason"], **facts})
    if kind == "expiring":
        expires = format_date(datetime.fromisoformat(data["expires_at"]), lang)
        return Draft("expiring", {**context, "expires_date": expires})
    return Draft(kind, context)


def _episode_draft(
    job: Mapping[str, Any],
    episode: Mapping[str, Any],
    lang: Language,
    context: dict[str, Any],
    settings: EmailSettings,
) -> Draft:
    """An alert or reminder: the episode's facts, a stop link and the list headers that carry it."""
    stop_url = stop_link(settings.stop_page_url, settings.link_secret, str(episode["id"]), lang)
    alert_at = episode["alert_sent_at"]
    context = {
        **context,
        "episode": True,
        "reminder": job["sequence"],
        "reminders_left": max(0, settings.reminder_count - job["sequence"]),
        "since_date": format_date(episode["began_at"], lang),
        "alert_date": format_date(alert_at, lang) if alert_at else None,
        "stop_url": stop_url,
    }
    if job["reason"] == "calendar_unavailable" and context["link_url"]:
        context["link_url"] += CALENDAR_SECTION  # "Choose a calendar" opens the settings page's picker
    headers = {"List-Unsubscribe": f"<{stop_url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
    return Draft(job["reason"], context, headers)
