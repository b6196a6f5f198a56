"""Every sentence the settings and result pages show, in German and English.

State texts say plainly what happened and what it means; Google never tells us *why* a grant was
revoked, so "revoked" names the usual causes without claiming one of them.
"""

from __future__ import annotations

from typing import Final

CALENDAR_EVENTS = "https://www.googleapis.com/auth/calendar.events"
CALENDAR_LIST = "https://www.googleapis.com/auth/calendar.calendarlist.readonly"

TEXTS: Final[dict[str, dict[str, str]]] = {
    "de": {
        "title": "Google Kalender-Verbindung",
        "platform.account": "Einstellungen für das Plattform-Konto {account}.",
        "switch.title": "Anderes Konto öffnen?",
        "switch.text": "In diesem Browser sind die Einstellungen für das Plattform-Konto {current} geöffnet. "
        "Dieser Link gehört zum Plattform-Konto {incoming}. Wenn Sie wechseln, gilt alles, was Sie danach "
        "hier tun, auch das Verbinden eines Google Kalenders, für {incoming}. Wechseln Sie nur, wenn "
        "das Ihr eigenes Konto ist.",
        "switch.submit": "Zu {incoming} wechseln",
        "switch.stay": "Bei {current} bleiben",
        "state.none": "Nicht verbunden. Verbinden Sie Ihren Google Kalender, damit Ihre Termine dort erscheinen.",
        "state.connected": "Verbunden mit Google Kalender als {email}.",
        "state.connected_no_email": "Verbunden mit Google Kalender.",
        "state.disconnected.revoked": "Getrennt: Google hat den Zugriff beendet, zum Beispiel nach einer "
        "Passwortänderung oder weil der Zugriff in Ihrem Google-Konto entfernt wurde.",
        "state.disconnected.account_deleted": "Getrennt: Laut Google wurde das Google-Konto gelöscht "
        "oder deaktiviert.",
        "state.disconnected.admin_policy": "Getrennt: Die Administration Ihres Google Workspace hat den "
        "Zugriff auf Google Kalender für diesen Dienst eingeschränkt. Bitte wenden Sie sich an Ihre "
        "Administratorin oder Ihren Administrator.",
        "state.disconnected.security_block": "Getrennt: Google hat den Zugriff aus Sicherheitsgründen gesperrt.",
        "state.disconnected.access_expired": "Getrennt: Der zeitlich begrenzte Zugriff, den Sie Google "
        "gegenüber erteilt haben, ist abgelaufen.",
        "state.disconnected": "Getrennt: Google hat den Zugriff beendet.",
        "state.suspended": "Pausiert: Google hat Ihr Google-Konto vorübergehend gesperrt, zum Beispiel nach "
        "verdächtigen Aktivitäten. Sobald Google es wieder freigibt, geht es von selbst weiter.",
        "since": "Seit {when}.",
        "account": "Google-Konto:",
        "kept": "Ihre Termine gehen nicht verloren: Sobald die Verbindung wieder besteht, werden sie in "
        "Ihren Kalender übertragen.",
        "button.connect": "Mit Google verbinden",
        "button.reconnect": "Erneut verbinden",
        "button.delete": "Verbindung löschen",
        "notice.deleted": "Die Verbindung wurde gelöscht. Sie können Ihren Google Kalender jederzeit "
        "wieder verbinden.",
        "notice.nothing_to_delete": "Es gibt keine Verbindung, die gelöscht werden könnte.",
        "delete.title": "Verbindung löschen?",
        "delete.text": "Wir geben den Zugriff bei Google zurück und löschen die gespeicherten Zugangsdaten. "
        "Termine, die schon in Ihrem Google Kalender stehen, bleiben dort. Sie können die Verbindung "
        "danach jederzeit neu hinzufügen.",
        "delete.confirm": "Ja, ich möchte die Verbindung zu {email} löschen.",
        "delete.confirm_no_email": "Ja, ich möchte die Verbindung löschen.",
        "delete.submit": "Endgültig löschen",
        "delete.cancel": "Abbrechen",
        "delete.unconfirmed": "Bitte setzen Sie das Häkchen, um das Löschen zu bestätigen.",
        "back": "Zurück zu den Einstellungen",
        "result.connected.title": "Verbunden",
        "result.connected": "Ihr Google Kalender ist jetzt verbunden ({email}).",
        "result.reconnected.title": "Wieder verbunden",
        "result.reconnected": "Die Verbindung zu Ihrem Google Kalender besteht wieder ({email}).",
        "result.account_changed": "Hinweis: Sie haben ein anderes Google-Konto gewählt als bisher ({previous}). "
        "Termine erscheinen ab jetzt im Kalender von {email}.",
        "result.denied.title": "Nichts geändert",
        "result.denied": "Sie haben die Anfrage bei Google abgebrochen. Es wurde nichts geändert.",
        "result.missing_scopes.title": "Nicht verbunden: eine Berechtigung fehlt",
        "result.missing_scopes": "Google hat uns nicht alle nötigen Berechtigungen gegeben, deshalb wurde "
        "nichts gespeichert. Bitte verbinden Sie erneut und setzen Sie auf der Seite von Google das "
        "Häkchen bei:",
        "result.google_error.title": "Nicht verbunden",
        "result.google_error": "Google hat die Anmeldung nicht abgeschlossen. Es wurde nichts geändert. "
        "Bitte versuchen Sie es erneut.",
        "result.admin_policy": "Die Administration Ihres Google Workspace erlaubt diesem Dienst keinen "
        "Zugriff auf Google Kalender. Bitte wenden Sie sich an Ihre Administratorin oder Ihren "
        "Administrator. Es wurde nichts geändert.",
        "result.unavailable.title": "Google ist nicht erreichbar",
        "result.unavailable": "Google hat gerade nicht geantwortet. Es wurde nichts geändert. Bitte "
        "versuchen Sie es in ein paar Minuten erneut.",
        "result.invalid_state.title": "Dieser Anmeldevorgang ist ungültig",
        "result.invalid_state": "Die Rückmeldung von Google ist abgelaufen, wurde schon verwendet oder in "
        "einem anderen Browser geöffnet. Es wurde nichts geändert. Bitte starten Sie die Verbindung "
        "erneut auf der Einstellungsseite.",
        "error.forged.title": "Dieser Link ist ungültig",
        "error.expired.title": "Dieser Link ist abgelaufen",
        "error.session.title": "Bitte öffnen Sie die Einstellungen erneut",
        "error.csrf.title": "Diese Anfrage wurde abgelehnt",
        "error.hint": "Öffnen Sie die Kalender-Einstellungen bitte erneut über die Plattform oder über "
        "den Link in Ihrer neuesten E-Mail.",
        "scope." + CALENDAR_EVENTS: "Termine in allen Ihren Kalendern ansehen und bearbeiten",
        "scope." + CALENDAR_LIST: "Liste der Google-Kalender ansehen, die Sie abonniert haben",
    },
    "en": {
        "title": "Google Calendar connection",
        "platform.account": "Settings for the platform account {account}.",
        "switch.title": "Open another account?",
        "switch.text": "This browser has the settings of the platform account {current} open. This link "
        "belongs to the platform account {incoming}. If you switch, everything you do here afterwards, "
        "connecting a Google Calendar included, applies to {incoming}. Only switch if it is your own account.",
        "switch.submit": "Switch to {incoming}",
        "switch.stay": "Stay with {current}",
        "state.none": "Not connected. Connect your Google Calendar so that your appointments appear there.",
        "state.connected": "Connected to Google Calendar as {email}.",
        "state.connected_no_email": "Connected to Google Calendar.",
        "state.disconnected.revoked": "Disconnected: Google ended our access, for example after a password "
        "change or because access was removed in your Google Account.",
        "state.disconnected.account_deleted": "Disconnected: Google reports that the Google Account was "
        "deleted or disabled.",
        "state.disconnected.admin_policy": "Disconnected: your Google Workspace administrator has "
        "restricted this service's access to Google Calendar. Please contact your administrator.",
        "state.disconnected.security_block": "Disconnected: Google blocked access for security reasons.",
        "state.disconnected.access_expired": "Disconnected: the time-limited access you gave has run out.",
        "state.disconnected": "Disconnected: Google ended our access.",
        "state.suspended": "Paused: Google has temporarily locked your Google Account, for example after "
        "suspicious activity. As soon as Google unlocks it, everything continues on its own.",
        "since": "Since {when}.",
        "account": "Google Account:",
        "kept": "Your appointments are not lost: once the connection is back, they are added to your calendar.",
        "button.connect": "Connect with Google",
        "button.reconnect": "Reconnect",
        "button.delete": "Delete connection",
        "notice.deleted": "The connection was deleted. You can connect your Google Calendar again at any time.",
        "notice.nothing_to_delete": "There is no connection to delete.",
        "delete.title": "Delete the connection?",
        "delete.text": "We hand the access back to Google and delete the stored credentials. Appointments "
        "already in your Google Calendar stay there. You can add the connection again at any time.",
        "delete.confirm": "Yes, delete the connection to {email}.",
        "delete.confirm_no_email": "Yes, delete the connection.",
        "delete.submit": "Delete for good",
        "delete.cancel": "Cancel",
        "delete.unconfirmed": "Please tick the box to confirm the deletion.",
        "back": "Back to settings",
        "result.connected.title": "Connected",
        "result.connected": "Your Google Calendar is now connected ({email}).",
        "result.reconnected.title": "Connected again",
        "result.reconnected": "Your Google Calendar is connected again ({email}).",
        "result.account_changed": "Note: you chose a different Google Account than before ({previous}). "
        "Appointments now appear in the calendar of {email}.",
        "result.denied.title": "Nothing changed",
        "result.denied": "You cancelled the request at Google. Nothing was changed.",
        "result.missing_scopes.title": "Not connected: a permission is missing",
        "result.missing_scopes": "Google did not give us every permission we need, so nothing was saved. "
        "Please connect again and tick this box on Google's page:",
        "result.google_error.title": "Not connected",
        "result.google_error": "Google did not complete the sign-in. Nothing was changed. Please try again.",
        "result.admin_policy": "Your Google Workspace administrator does not allow this service to access "
        "Google Calendar. Please contact your administrator. Nothing was changed.",
        "result.unavailable.title": "Google is not reachable",
        "result.unavailable": "Google did not answer just now. Nothing was changed. Please try again in a "
        "few minutes.",
        "result.invalid_state.title": "This sign-in is not valid",
        "result.invalid_state": "Google's answer has expired, was already used, or was opened in a different "
        "browser. Nothing was changed. Please start connecting again from the settings page.",
        "error.forged.title": "This link is not valid",
        "error.expired.title": "This link has expired",
        "error.session.title": "Please open the settings again",
        "error.csrf.title": "This request was refused",
        "error.hint": "Please open the calendar settings again from the platform or from the link in your "
        "latest email.",
        "scope." + CALENDAR_EVENTS: "View and edit events on all your calendars",
        "scope." + CALENDAR_LIST: "See the list of Google calendars you're subscribed to",
    },
}

MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
