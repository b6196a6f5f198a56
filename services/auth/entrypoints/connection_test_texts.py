"""Every sentence of the connection test's results, in German and English (the settings page's
result section and the API's ``message``): ``<step>.<status>.<code>``, a title per step, a summary."""

from __future__ import annotations

from typing import Final

from services.auth.domain.connection_test import ConnectionReport, Step

_RECONNECT_DE = " Bitte verbinden Sie erneut."
_RECONNECT_EN = " Please reconnect."

TEXTS: Final[dict[str, dict[str, str]]] = {
    "de": {
        "heading": "Verbindung testen",
        "intro": "Wir prüfen jetzt gleich, ob Google uns Zugriff gibt, ob wir in Ihren Kalender schreiben "
        "dürfen und ob Google uns Änderungen meldet. Dafür wird kurz ein privater Test-Eintrag angelegt "
        "und sofort wieder gelöscht.",
        "button": "Verbindung testen",
        "result.heading": "Ergebnis des Tests",
        "summary.ok": "Alles funktioniert.",
        "summary.problem": "Nicht alles funktioniert. Die Einzelheiten stehen unten.",
        "status.ok": "Bestanden",
        "status.failed": "Fehlgeschlagen",
        "status.skipped": "Nicht geprüft",
        "title.grant": "1. Zugriff auf Google",
        "title.calendar": "2. In den Kalender schreiben",
        "title.channel": "3. Benachrichtigungen von Google",
        "grant.ok.refreshed": "Google hat unseren Zugriff gerade bestätigt.",
        "grant.failed.revoked": "Google hat den Zugriff beendet, zum Beispiel nach einer Passwortänderung "
        "oder weil der Zugriff in Ihrem Google-Konto entfernt wurde." + _RECONNECT_DE,
        "grant.failed.account_deleted": "Laut Google wurde das Google-Konto gelöscht oder deaktiviert.",
        "grant.failed.admin_policy": "Die Administration Ihres Google Workspace hat den Zugriff auf Google "
        "Kalender für diesen Dienst eingeschränkt. Bitte wenden Sie sich an Ihre Administratorin oder Ihren "
        "Administrator.",
        "grant.failed.security_block": "Google hat den Zugriff aus Sicherheitsgründen gesperrt."
        + _RECONNECT_DE,
        "grant.failed.access_expired": "Der zeitlich begrenzte Zugriff, den Sie Google gegenüber erteilt "
        "haben, ist abgelaufen." + _RECONNECT_DE,
        "grant.failed.suspended": "Google hat Ihr Google-Konto vorübergehend gesperrt. Sobald Google es "
        "wieder freigibt, geht es von selbst weiter.",
        "grant.failed.disconnected": "Google hat den Zugriff beendet." + _RECONNECT_DE,
        "grant.failed.no_grant": "Es besteht keine Verbindung zu Google. Bitte verbinden Sie Ihren Google "
        "Kalender.",
        "grant.failed.google_unavailable": "Google hat gerade nicht geantwortet. Bitte versuchen Sie es in "
        "ein paar Minuten erneut.",
        "calendar.ok.written_and_removed": "Ein Test-Eintrag wurde in „{calendar}“ gespeichert und sofort "
        "wieder gelöscht.",
        "calendar.failed.not_connected": "Die Verbindung zu Google ist noch nicht bereit. Bitte versuchen Sie "
        "es in ein paar Minuten erneut.",
        "calendar.failed.no_calendar": "Ihr Kalender wird gerade eingerichtet. Bitte versuchen Sie es in ein "
        "paar Minuten erneut.",
        "calendar.failed.not_writable": "In den gewählten Kalender „{calendar}“ dürfen Sie keine Termine "
        "eintragen. Bitte wählen Sie oben einen anderen Kalender.",
        "calendar.failed.needs_consent": "Wir dürfen keine Termine eintragen. Bitte verbinden Sie erneut und "
        "erlauben Sie auf der Seite von Google, Termine zu bearbeiten.",
        "calendar.failed.calendar_gone": "Den gewählten Kalender „{calendar}“ gibt es in Ihrem Google-Konto "
        "nicht mehr. Bitte wählen Sie oben einen anderen Kalender.",
        "calendar.failed.google_refused": "Google hat den Test-Eintrag abgelehnt. Bitte versuchen Sie es "
        "später erneut.",
        "calendar.failed.google_unavailable": "Google hat gerade nicht geantwortet. Bitte versuchen Sie es "
        "in ein paar Minuten erneut.",
        "calendar.failed.not_removed": "Ein Test-Eintrag wurde gespeichert, konnte aber nicht gelöscht "
        "werden. Sie finden ihn als „calsync connection test“ weit in der Zukunft und können ihn selbst "
        "löschen.",
        "calendar.failed.unreachable": "Konnte gerade nicht geprüft werden. Bitte versuchen Sie es in ein "
        "paar Minuten erneut.",
        "calendar.skipped.grant_failed": "Nicht geprüft: Ohne Zugriff auf Google kann nichts eingetragen "
        "werden.",
        "channel.ok.push_received": "Google hat uns den Test-Eintrag sofort gemeldet: Änderungen, die Sie in "
        "Google vornehmen, erreichen uns gleich.",
        "channel.failed.no_channel": "Google meldet uns Änderungen in diesem Kalender gerade nicht. Wir "
        "richten das von selbst wieder ein; bis dahin sehen wir regelmäßig in Ihrem Kalender nach.",
        "channel.failed.no_push": "Google hat uns den Test-Eintrag nicht innerhalb weniger Sekunden gemeldet. "
        "Änderungen, die Sie in Google vornehmen, erreichen uns vielleicht später; wir sehen außerdem "
        "regelmäßig in Ihrem Kalender nach.",
        "channel.failed.unreachable": "Konnte gerade nicht geprüft werden. Bitte versuchen Sie es in ein "
        "paar Minuten erneut.",
        "channel.skipped.pushes_off": "Nicht geprüft: Benachrichtigungen von Google sind für diesen Dienst "
        "ausgeschaltet; wir sehen regelmäßig in Ihrem Kalender nach.",
        "channel.skipped.no_probe": "Nicht geprüft: Ohne Test-Eintrag gibt es nichts, was Google melden "
        "könnte.",
        "channel.skipped.grant_failed": "Nicht geprüft: Ohne Zugriff auf Google meldet Google uns nichts.",
    },
    "en": {
        "heading": "Test the connection",
        "intro": "We check right now whether Google gives us access, whether we may write to your calendar "
        "and whether Google tells us about changes. For this a private test entry is added and removed "
        "again at once.",
        "button": "Test the connection",
        "result.heading": "Test result",
        "summary.ok": "Everything works.",
        "summary.problem": "Not everything works. The details are below.",
        "status.ok": "Passed",
        "status.failed": "Failed",
        "status.skipped": "Not checked",
        "title.grant": "1. Access to Google",
        "title.calendar": "2. Writing to your calendar",
        "title.channel": "3. Notifications from Google",
        "grant.ok.refreshed": "Google confirmed our access just now.",
        "grant.failed.revoked": "Google ended our access, for example after a password change or because "
        "access was removed in your Google Account." + _RECONNECT_EN,
        "grant.failed.account_deleted": "Google reports that the Google Account was deleted or disabled.",
        "grant.failed.admin_policy": "Your Google Workspace administrator has restricted this service's "
        "access to Google Calendar. Please contact your administrator.",
        "grant.failed.security_block": "Google blocked access for security reasons." + _RECONNECT_EN,
        "grant.failed.access_expired": "The time-limited access you gave has run out." + _RECONNECT_EN,
        "grant.failed.suspended": "Google has temporarily locked your Google Account. As soon as Google "
        "unlocks it, everything continues on its own.",
        "grant.failed.disconnected": "Google ended our access." + _RECONNECT_EN,
        "grant.failed.no_grant": "There is no connection to Google. Please connect your Google Calendar.",
        "grant.failed.google_unavailable": "Google did not answer just now. Please try again in a few "
        "minutes.",
        "calendar.ok.written_and_removed": "A test entry was saved in “{calendar}” and removed again at once.",
        "calendar.failed.not_connected": "The connection to Google is not ready yet. Please try again in a "
        "few minutes.",
        "calendar.failed.no_calendar": "Your calendar is being set up. Please try again in a few minutes.",
        "calendar.failed.not_writable": "You may not add events to the chosen calendar “{calendar}”. Please "
        "choose another calendar above.",
        "calendar.failed.needs_consent": "We may not add events. Please reconnect and allow editing events "
        "on Google's page.",
        "calendar.failed.calendar_gone": "The chosen calendar “{calendar}” is no longer in your Google "
        "Account. Please choose another calendar above.",
        "calendar.failed.google_refused": "Google refused the test entry. Please try again later.",
        "calendar.failed.google_unavailable": "Google did not answer just now. Please try again in a few "
        "minutes.",
        "calendar.failed.not_removed": "A test entry was saved but could not be removed. You will find it "
        "as “calsync connection test” far in the future and can delete it yourself.",
        "calendar.failed.unreachable": "Could not be checked just now. Please try again in a few minutes.",
        "calendar.skipped.grant_failed": "Not checked: without access to Google nothing can be written.",
        "channel.ok.push_received": "Google told us about the test entry at once: changes you make in Google "
        "reach us right away.",
        "channel.failed.no_channel": "Google is not telling us about changes to this calendar right now. We "
        "set this up again on our own; until then we look at your calendar regularly.",
        "channel.failed.no_push": "Google did not tell us about the test entry within a few seconds. Changes "
        "you make in Google may reach us later; we also look at your calendar regularly.",
        "channel.failed.unreachable": "Could not be checked just now. Please try again in a few minutes.",
        "channel.skipped.pushes_off": "Not checked: notifications from Google are switched off for this "
        "service; we look at your calendar regularly instead.",
        "channel.skipped.no_probe": "Not checked: without a test entry there is nothing Google could tell "
        "us about.",
        "channel.skipped.grant_failed": "Not checked: without access to Google, Google tells us nothing.",
    },
}


def sentence(step: Step, report: ConnectionReport, locale: str) -> str:
    """What the step's outcome means, in plain words."""
    text = TEXTS[locale][f"{step.name}.{step.status}.{step.code}"]
    return text.format(calendar=report.calendar_id or "")
