"""Every sentence of the settings page's Calendar section, in German and English: the sync health in
plain words (keys from ``domain/sync_health``; ``.one``/``.many`` by count) and the picker."""

from __future__ import annotations

from typing import Final

from services.auth.domain.sync_health import Sentence

TEXTS: Final[dict[str, dict[str, str]]] = {
    "de": {
        "heading": "Kalender",
        "current": "Kalender für Ihre Termine: {name}",
        "current.gone": "Bisher gewählt: {name} (nicht mehr beschreibbar)",
        "picker.label": "Kalender wählen",
        "picker.save": "Speichern",
        "picker.primary": "{name} (Hauptkalender)",
        "picker.hint": "Es werden nur Kalender angezeigt, in die Sie Termine eintragen dürfen. Beim Wechsel "
        "werden Ihre kommenden Termine in den neuen Kalender verschoben.",
        "picker.unavailable": "Die Liste Ihrer Kalender kann gerade nicht geladen werden. Bitte versuchen "
        "Sie es in ein paar Minuten erneut.",
        "picker.needs_consent": "Wir dürfen die Liste Ihrer Kalender nicht sehen. Bitte verbinden Sie erneut "
        "und erlauben Sie auf der Seite von Google, die Kalenderliste anzusehen.",
        "unreachable": "Der Stand der Übertragung kann gerade nicht angezeigt werden. Ihre Termine gehen "
        "nicht verloren. Bitte laden Sie die Seite in ein paar Minuten neu.",
        "saved": "Gespeichert: Ihre Termine werden ab jetzt in „{name}“ eingetragen. Kommende Termine werden "
        "dorthin verschoben.",
        "refused.not_writable": "In diesen Kalender dürfen Sie keine Termine eintragen. Bitte wählen Sie "
        "einen anderen.",
        "refused.unknown_calendar": "Diesen Kalender gibt es in Ihrem Google-Konto nicht mehr. Bitte wählen "
        "Sie einen anderen.",
        "refused.not_connected": "Ohne Verbindung zu Google kann kein Kalender gewählt werden.",
        "refused.unavailable": "Google hat gerade nicht geantwortet. Es wurde nichts geändert. Bitte "
        "versuchen Sie es erneut.",
        "refused.unreachable": "Der Kalender kann gerade nicht gewechselt werden. Es wurde nichts geändert. "
        "Bitte versuchen Sie es in ein paar Minuten erneut.",
        "health.all_copied": "Alle Termine sind in Ihrem Kalender.",
        "health.copying.one": "1 Termin wird gerade in Ihren Kalender übertragen.",
        "health.copying.many": "{count} Termine werden gerade in Ihren Kalender übertragen.",
        "health.retrying.one": "1 Termin wartet: Google antwortet gerade nicht. Wir versuchen es von selbst "
        "erneut.",
        "health.retrying.many": "{count} Termine warten: Google antwortet gerade nicht. Wir versuchen es von "
        "selbst erneut.",
        "health.reconnect.one": "1 Termin wartet, bis Sie die Verbindung erneuern.",
        "health.reconnect.many": "{count} Termine warten, bis Sie die Verbindung erneuern.",
        "health.reconnect.none": "Neue Termine warten, bis Sie die Verbindung erneuern.",
        "health.suspended.one": "1 Termin wartet, bis Google Ihr Konto wieder freigibt.",
        "health.suspended.many": "{count} Termine warten, bis Google Ihr Konto wieder freigibt.",
        "health.suspended.none": "Neue Termine warten, bis Google Ihr Konto wieder freigibt.",
        "health.calendar_unavailable.one": "1 Termin wartet auf einen Kalender, in den Sie eintragen dürfen. "
        "Bitte wählen Sie unten einen Kalender.",
        "health.calendar_unavailable.many": "{count} Termine warten auf einen Kalender, in den Sie eintragen "
        "dürfen. Bitte wählen Sie unten einen Kalender.",
        "health.calendar_unavailable.none": "In den gewählten Kalender dürfen Sie nicht mehr eintragen. Bitte "
        "wählen Sie unten einen Kalender.",
        "health.needs_consent.one": "1 Termin wartet: Bitte verbinden Sie erneut und erlauben Sie auf der "
        "Seite von Google, Termine zu bearbeiten.",
        "health.needs_consent.many": "{count} Termine warten: Bitte verbinden Sie erneut und erlauben Sie auf "
        "der Seite von Google, Termine zu bearbeiten.",
        "health.needs_consent.none": "Bitte verbinden Sie erneut und erlauben Sie auf der Seite von Google, "
        "Termine zu bearbeiten.",
        "health.setting_up.one": "Ihr Kalender wird eingerichtet; 1 Termin folgt gleich.",
        "health.setting_up.many": "Ihr Kalender wird eingerichtet; {count} Termine folgen gleich.",
        "health.setting_up.none": "Ihr Kalender wird eingerichtet.",
        "health.refused.one": "1 Termin hat Google abgelehnt; er steht nicht in Ihrem Kalender.",
        "health.refused.many": "{count} Termine hat Google abgelehnt; sie stehen nicht in Ihrem Kalender.",
        "health.last_copied.now": "Zuletzt übertragen: gerade eben.",
        "health.last_copied.minutes.one": "Zuletzt übertragen vor 1 Minute.",
        "health.last_copied.minutes.many": "Zuletzt übertragen vor {count} Minuten.",
        "health.last_copied.hours.one": "Zuletzt übertragen vor 1 Stunde.",
        "health.last_copied.hours.many": "Zuletzt übertragen vor {count} Stunden.",
        "health.last_copied.days.one": "Zuletzt übertragen vor 1 Tag.",
        "health.last_copied.days.many": "Zuletzt übertragen vor {count} Tagen.",
    },
    "en": {
        "heading": "Calendar",
        "current": "Calendar for your appointments: {name}",
        "current.gone": "Chosen until now: {name} (can no longer be written to)",
        "picker.label": "Choose a calendar",
        "picker.save": "Save",
        "picker.primary": "{name} (main calendar)",
        "picker.hint": "Only calendars you may add events to are listed. When you switch, your upcoming "
        "appointments move to the new calendar.",
        "picker.unavailable": "The list of your calendars cannot be loaded right now. Please try again in a "
        "few minutes.",
        "picker.needs_consent": "We may not see the list of your calendars. Please reconnect and allow "
        "seeing your calendar list on Google's page.",
        "unreachable": "The state of your appointments cannot be shown right now. Your appointments are not "
        "lost. Please reload the page in a few minutes.",
        "saved": "Saved: your appointments now go to “{name}”. Upcoming appointments are being moved there.",
        "refused.not_writable": "You may not add events to this calendar. Please choose another one.",
        "refused.unknown_calendar": "This calendar is no longer in your Google Account. Please choose "
        "another one.",
        "refused.not_connected": "A calendar can only be chosen while you are connected to Google.",
        "refused.unavailable": "Google did not answer just now. Nothing was changed. Please try again.",
        "refused.unreachable": "The calendar cannot be changed right now. Nothing was changed. Please try "
        "again in a few minutes.",
        "health.all_copied": "All appointments are in your calendar.",
        "health.copying.one": "1 appointment is being copied to your calendar.",
        "health.copying.many": "{count} appointments are being copied to your calendar.",
        "health.retrying.one": "1 appointment is waiting: Google is not answering right now. We keep trying "
        "on our own.",
        "health.retrying.many": "{count} appointments are waiting: Google is not answering right now. We keep "
        "trying on our own.",
        "health.reconnect.one": "1 appointment is waiting until you reconnect.",
        "health.reconnect.many": "{count} appointments are waiting until you reconnect.",
        "health.reconnect.none": "New appointments will wait until you reconnect.",
        "health.suspended.one": "1 appointment is waiting until Google unlocks your account.",
        "health.suspended.many": "{count} appointments are waiting until Google unlocks your account.",
        "health.suspended.none": "New appointments will wait until Google unlocks your account.",
        "health.calendar_unavailable.one": "1 appointment is waiting for a calendar you can write to. Please "
        "choose one below.",
        "health.calendar_unavailable.many": "{count} appointments are waiting for a calendar you can write "
        "to. Please choose one below.",
        "health.calendar_unavailable.none": "You may no longer add events to the chosen calendar. Please "
        "choose one below.",
        "health.needs_consent.one": "1 appointment is waiting: please reconnect and allow editing events on "
        "Google's page.",
        "health.needs_consent.many": "{count} appointments are waiting: please reconnect and allow editing "
        "events on Google's page.",
        "health.needs_consent.none": "Please reconnect and allow editing events on Google's page.",
        "health.setting_up.one": "Your calendar is being set up; 1 appointment follows shortly.",
        "health.setting_up.many": "Your calendar is being set up; {count} appointments follow shortly.",
        "health.setting_up.none": "Your calendar is being set up.",
        "health.refused.one": "Google refused 1 appointment; it is not in your calendar.",
        "health.refused.many": "Google refused {count} appointments; they are not in your calendar.",
        "health.last_copied.now": "Last copied just now.",
        "health.last_copied.minutes.one": "Last copied 1 minute ago.",
        "health.last_copied.minutes.many": "Last copied {count} minutes ago.",
        "health.last_copied.hours.one": "Last copied 1 hour ago.",
        "health.last_copied.hours.many": "Last copied {count} hours ago.",
        "health.last_copied.days.one": "Last copied 1 day ago.",
        "health.last_copied.days.many": "Last copied {count} days ago.",
    },
}


def say(sentence: Sentence, locale: str) -> str:
    """The sentence in ``locale``: ``.none`` for a count of 0 where the text has one."""
    texts, key = TEXTS[locale], sentence.key
    if sentence.count is not None:
        form = "none" if sentence.count == 0 else "one" if sentence.count == 1 else "many"
        key = f"{key}.{form}"
    return texts[key].format(count=sentence.count, **dict(sentence.facts))
