"""What goes into one email: recipient, language, template topic, template facts and list headers.

Pure: works on the job, episode and contact as loaded by the delivery worker; no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from services.notifier import domain
from services.notifier.config import NotifierConfig

EPISODE_KINDS = ("alert", "reminder")


@dataclass(frozen=True)
class Recipient:
    address: str
    name: str | None
    lang: domain.Language
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


def recipient(
    job: Mapping[str, Any],
    episode: Mapping[str, Any] | None,
    contact: Mapping[str, Any] | None,
    *,
    hijack_reported: bool,
    config: NotifierConfig,
) -> Recipient | None:
    """The platform address; else the Google address (never for a hijacked account); operators apart."""
    if job["kind"] == "operator":
        lang = domain.language(config.operator_locale)
        return Recipient(config.operator_email, None, lang, "operator") if config.operator_email else None
    google_email = _google_email(job, episode)
    choice = domain.choose_recipient(
        contact_email=contact["email"] if contact else None,
        google_email=google_email,
        hijack_reported=hijack_reported,
    )
    if choice is None:
        return None
    lang = domain.language(contact["locale"] if contact else None)
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
    config: NotifierConfig,
    hijack_reported: bool,
) -> Draft:
    """Template topic, facts and extra headers for this job."""
    google_email = None if hijack_reported else _google_email(job, episode)
    context: dict[str, Any] = {
        "product": config.product_name,
        "name": to.name,
        "google_email": google_email,
        "link_url": link_url,
    }
    if job["kind"] in EPISODE_KINDS:
        assert episode is not None
        return _episode_draft(job, episode, to.lang, context, config)
    return _single_draft(job, to.lang, context)


def _single_draft(job: Mapping[str, Any], lang: domain.Language, context: dict[str, Any]) -> Draft:
    """An email outside any episode: to the operator, the heads-up before expiry, "connected again"."""
    kind, data = job["kind"], job["data"] or {}
    if kind == "operator":
        facts = {k: data.get(k) for k in ("incident_id", "error", "detail")}
        return Draft("operator", {**context, "operator": True, "alert_kind": job["reason"], **facts})
    if kind == "expiring":
        expires = domain.format_date(datetime.fromisoformat(data["expires_at"]), lang)
        return Draft("expiring", {**context, "expires_date": expires})
    return Draft(kind, context)


def _episode_draft(
    job: Mapping[str, Any],
    episode: Mapping[str, Any],
    lang: domain.Language,
    context: dict[str, Any],
    config: NotifierConfig,
) -> Draft:
    """An alert or reminder: the episode's facts, a stop link and the list headers that carry it."""
    stop_url = stop_link(config, str(episode["id"]), lang)
    alert_at = episode["alert_sent_at"]
    context = {
        **context,
        "episode": True,
        "reminder": job["sequence"],
        "reminders_left": max(0, len(config.reminder_days) - job["sequence"]),
        "since_date": domain.format_date(episode["began_at"], lang),
        "alert_date": domain.format_date(alert_at, lang) if alert_at else None,
        "stop_url": stop_url,
    }
    headers = {"List-Unsubscribe": f"<{stop_url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
    return Draft(job["reason"], context, headers)


def stop_link(config: NotifierConfig, episode_id: str, lang: str) -> str:
    """The notifier's own signed link that stops the reminders of one episode."""
    signature = domain.stop_signature(config.link_secret, episode_id)
    query = urlencode({"e": episode_id, "sig": signature, "l": lang})
    return config.common.public_url(f"/reminders/stop?{query}")
