"""The notifier's pure rules: episodes, recipients, cadence, retries and signed stop links."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.notifier.domain import emails, episodes, language, retries, stop_links
from shared import messages as m

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def test_disconnect_opens_a_grant_episode_with_its_reason() -> None:
    """A disconnection report names the grant, the reason and when it began."""
    event = m.GrantDisconnected(
        user_id="u1", grant_id="g1", reason="revoked", since=T0, google_email="a@gmail.com"
    )
    opening = episodes.opening_for(event)
    assert opening == episodes.Opening("grant:g1", "u1", "revoked", T0, "a@gmail.com", False)


def test_hijacked_suspension_never_carries_the_google_mailbox() -> None:
    """A hijacked account's Google address is dropped even if a producer sent it."""
    event = m.GrantSuspended(
        user_id="u1", grant_id="g1", hijacking=True, since=T0, google_email="a@gmail.com"
    )
    opening = episodes.opening_for(event)
    assert opening is not None and opening.google_email is None and opening.hijacked


def test_calendar_problem_is_its_own_subject() -> None:
    """A calendar problem is tracked per user, apart from the grant."""
    event = m.CalendarProblem(user_id="u1", problem="needs_consent", since=T0)
    opening = episodes.opening_for(event)
    assert opening is not None and opening.subject == "calendar:u1" and opening.reason == "needs_consent"


def test_only_a_reconnect_asks_for_a_confirmation() -> None:
    """Reconnecting ends the episode with good news; deleting on purpose ends it silently."""
    connected = m.GrantConnected(user_id="u1", grant_id="g1", cause="reconnected", google_sub="s")
    deleted = m.GrantDeleted(user_id="u1", grant_id="g1", cause="user_request")
    selected = m.CalendarSelected(user_id="u1", calendar_id="c")
    assert episodes.ending_for(connected).confirm  # type: ignore[union-attr]
    assert not episodes.ending_for(deleted).confirm  # type: ignore[union-attr]
    assert episodes.ending_for(selected).subject == "calendar:u1"  # type: ignore[union-attr]


def test_report_older_than_the_last_good_news_is_stale() -> None:
    """A disconnect that began before the last reconnect was already resolved."""
    assert episodes.is_stale(T0, T0 + timedelta(seconds=1))
    assert not episodes.is_stale(T0, T0)
    assert not episodes.is_stale(T0, None)


@pytest.mark.parametrize(
    ("locale", "lang"),
    [("de", "de"), ("de-AT", "de"), ("de_CH", "de"), ("en-GB", "en"), ("fr", "en"), (None, "en")],
)
def test_language_follows_the_locale(locale: str | None, lang: str) -> None:
    """German locales get German emails, everyone else English."""
    assert language.language(locale) == lang


def test_platform_address_wins_and_hijacked_google_mailbox_is_never_used() -> None:
    """Who is told: the platform address, else the Google one unless Google reported a hijack."""
    assert emails.choose_recipient(
        contact_email="p@x.org", google_email="g@gmail.com", hijack_reported=True
    ) == (
        "p@x.org",
        "platform",
    )
    assert emails.choose_recipient(contact_email=None, google_email="g@gmail.com", hijack_reported=False) == (
        "g@gmail.com",
        "google",
    )
    assert (
        emails.choose_recipient(contact_email=None, google_email="g@gmail.com", hijack_reported=True) is None
    )


def test_reminders_follow_the_cadence_from_the_alert() -> None:
    """Day 1, 3 and 7 after the alert, then nothing more."""
    offsets = tuple(timedelta(days=d) for d in (1, 3, 7))
    assert [episodes.reminder_due(T0, n, offsets) for n in range(4)] == [
        T0 + timedelta(days=1),
        T0 + timedelta(days=3),
        T0 + timedelta(days=7),
        None,
    ]


def test_temporary_failures_back_off_then_give_up() -> None:
    """Growing delays, the last one repeated, and a final give-up."""
    delays = (30.0, 120.0)
    decisions = [
        retries.after_temporary_failure(attempts=n, max_attempts=4, delays=delays, now=T0)
        for n in range(1, 5)
    ]
    assert [d.due_at for d in decisions[:3]] == [
        T0 + timedelta(seconds=30),
        T0 + timedelta(seconds=120),
        T0 + timedelta(seconds=120),
    ]
    assert decisions[3].give_up


def test_stop_signature_is_bound_to_the_episode_and_secret() -> None:
    """A stop link works for its own episode only and cannot be forged without the secret."""
    secret = "s" * 40
    sig = stop_links.stop_signature(secret, "e1")
    assert stop_links.stop_signature_valid(secret, "e1", sig)
    assert not stop_links.stop_signature_valid(secret, "e2", sig)
    assert not stop_links.stop_signature_valid("t" * 40, "e1", sig)
    assert not stop_links.stop_signature_valid(secret, "e1", sig[:-1] + ("A" if sig[-1] != "A" else "B"))


def test_dates_read_naturally() -> None:
    """Dates in emails are written out in the reader's language."""
    assert language.format_date(T0, "de") == "5. Januar 2026"
    assert language.format_date(T0 + timedelta(days=60), "en") == "6 March 2026"


@pytest.mark.parametrize(("reason", "link"), [("calendar_unavailable", "L#calendar"), ("revoked", "L")])
def test_choose_a_calendar_opens_the_calendar_section(reason: str, link: str) -> None:
    """The "Choose a calendar" button leads to the settings page's picker; other buttons to the page."""
    settings = emails.EmailSettings("P", "", "en", 3, "https://n/stop", link_secret="s" * 32)
    job = {"kind": "alert", "reason": reason, "sequence": 0, "data": {}}
    episode = {"id": "e1", "alert_sent_at": None, "began_at": T0, "google_email": None}
    to = emails.Recipient("a@example.com", None, language.language("en"), "platform")
    draft = emails.draft(job, episode, to, link_url="L", settings=settings, hijack_reported=False)
    assert draft.context["link_url"] == link
