"""Every email renders in German and English with honest reason texts, the button and the stop link."""

from __future__ import annotations

from typing import Any

import pytest

from services.notifier.adapters.rendering import TOPICS, Templates
from services.notifier.domain.episodes import EPISODE_REASONS

TEMPLATES = Templates()

# A phrase each reason's email must contain (the honest explanation), per language.
REASON_PHRASES = {
    "revoked": {
        "en": "after a password change or when the access was removed in your Google account",
        "de": "nach einer Änderung Ihres Google-Passworts oder wenn der Zugriff in Ihrem Google-Konto",
    },
    "account_deleted": {"en": "has been deleted or disabled", "de": "gelöscht oder deaktiviert wurde"},
    "admin_policy": {"en": "administrator", "de": "Administrator"},
    "security_block": {"en": "suspicious activity", "de": "verdächtiger Aktivitäten"},
    "access_expired": {"en": "limited time", "de": "begrenzte Zeit"},
    "calendar_unavailable": {
        "en": "deleted, or Pilotly may no longer write to it",
        "de": "gelöscht, oder Pilotly darf nicht mehr in ihn schreiben",
    },
    "needs_consent": {"en": "tick the box for calendar access", "de": "Haken beim Zugriff auf den Kalender"},
}
KEPT = {"en": "Your appointments are kept", "de": "Ihre Termine gehen nicht verloren"}


def episode_context(**changes: Any) -> dict[str, Any]:
    context: dict[str, Any] = {
        "product": "Pilotly",
        "name": "Anna Weber",
        "google_email": "anna@gmail.com",
        "link_url": "https://auth.example/settings?t=abc",
        "stop_url": "https://notify.example/reminders/stop?e=1&sig=x",
        "episode": True,
        "reminder": 0,
        "reminders_left": 3,
        "since_date": "5. Januar 2026",
    }
    context.update(changes)
    return context


@pytest.mark.parametrize("lang", ["de", "en"])
@pytest.mark.parametrize("reason", EPISODE_REASONS)
def test_alert_names_the_reason_what_still_works_and_has_one_button(reason: str, lang: str) -> None:
    """Each reason's alert explains it honestly, promises the appointments are kept, links once."""
    email = TEMPLATES.render(reason, lang, episode_context())  # type: ignore[arg-type]
    for part in (email.text, email.html):
        assert REASON_PHRASES[reason][lang] in part
        assert KEPT[lang] in part
    assert email.html.count('href="https://auth.example/settings?t=abc"') == 1
    assert "https://auth.example/settings?t=abc" in email.text
    assert "https://notify.example/reminders/stop?e=1&amp;sig=x" in email.html
    assert "https://notify.example/reminders/stop?e=1&sig=x" in email.text
    assert email.subject and "\n" not in email.subject
    assert "Anna Weber" in email.text


@pytest.mark.parametrize("lang", ["de", "en"])
def test_reminder_says_it_is_a_reminder(lang: str) -> None:
    """A reminder is marked in the subject and says when we first wrote."""
    email = TEMPLATES.render(
        "revoked",
        lang,  # type: ignore[arg-type]
        episode_context(reminder=2, reminders_left=1, alert_date="5. Januar 2026"),
    )
    assert email.subject.startswith({"de": "Erinnerung:", "en": "Reminder:"}[lang])
    assert "5. Januar 2026" in email.text


@pytest.mark.parametrize("lang", ["de", "en"])
@pytest.mark.parametrize("topic", TOPICS)
def test_every_template_renders_without_a_name_or_google_address(topic: str, lang: str) -> None:
    """Templates cope with missing optional facts (no empty placeholders, no errors)."""
    context = episode_context(name=None, google_email=None, expires_date="9 January 2026")
    if topic in ("reconnected", "expiring", "operator"):
        context.update(
            episode=False,
            stop_url=None,
            operator=topic == "operator",
            incident_id="inc-1",
            alert_kind="circuit_open",
            error=None,
            detail=None,
        )
        if topic == "operator":
            context["link_url"] = None
    email = TEMPLATES.render(topic, lang, context)  # type: ignore[arg-type]
    assert "None" not in email.text and "()" not in email.text
    assert {"de": "Guten Tag,", "en": "Hello,"}[lang] in email.text


def test_html_escapes_user_supplied_values() -> None:
    """A name with markup is shown as text, never interpreted."""
    email = TEMPLATES.render("revoked", "en", episode_context(name="<b>Eve</b>"))
    assert "&lt;b&gt;Eve&lt;/b&gt;" in email.html and "<b>Eve</b>" not in email.html


def test_reconnected_confirmation_tells_waiting_appointments_are_synced() -> None:
    """The good-news email says the calendar is connected again and appointments are on their way."""
    email = TEMPLATES.render("reconnected", "en", episode_context(episode=False))
    assert "connected to Pilotly again" in email.text and "being copied" in email.text
