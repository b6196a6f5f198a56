"""The emulator's own page (`GET /_emulator/`): the emulated Google accounts, their calendars with
events, the live grants, and buttons that are HTML forms POSTing to the admin API (admin.py),
which answers a form with a 303 back here. Plain HTML, every value escaped."""

from __future__ import annotations

import html
import time
from typing import Any

from aiohttp import web

from .records import EmuUser, Grant
from .state import EmulatorState

PAGE_PATH = "/_emulator/"
SECURITY_EVENTS = (
    ("tokens-revoked", None, "Tokens revoked"),
    ("account-disabled", "hijacking", "Account disabled (hijacking)"),
    ("account-enabled", None, "Account enabled"),
)
_STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5rem auto;max-width:62rem;padding:0 1rem;color:#111827}
h1{font-size:1.5rem;margin:.2rem 0}h2{font-size:1.2rem;margin:0}h3{font-size:1rem;margin:1rem 0 .3rem}
.account{border:1px solid #d1d5db;border-radius:8px;padding:1rem;margin:1rem 0}
.muted{color:#6b7280;font-size:.85rem}.flag{background:#fee2e2;color:#991b1b;border-radius:4px;
padding:0 .4rem;font-size:.8rem;margin-left:.4rem}.notice{background:#ecfdf5;border:1px solid #a7f3d0;
padding:.5rem .8rem;border-radius:6px}table{border-collapse:collapse;width:100%;font-size:.9rem}
td,th{text-align:left;padding:.25rem .5rem;border-bottom:1px solid #e5e7eb;vertical-align:top}
code{font-size:.8rem}form{display:inline-block;margin:.2rem .3rem .2rem 0}
button{padding:.3rem .7rem;border:1px solid #9ca3af;border-radius:5px;background:#f9fafb;cursor:pointer}
button.danger{border-color:#dc2626;color:#991b1b}input[type=url]{width:20rem}
.actions{margin-top:.6rem}
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _form(op: str, label: str, fields: dict[str, str], *, danger: bool = False, extra: str = "") -> str:
    hidden = "".join(f'<input type="hidden" name="{_e(k)}" value="{_e(v)}">' for k, v in fields.items())
    css = ' class="danger"' if danger else ""
    return (
        f'<form method="post" action="/_emulator/{_e(op)}">{hidden}{extra}'
        f"<button{css}>{_e(label)}</button></form>"
    )


def _when(part: Any) -> str:
    if not isinstance(part, dict):
        return ""
    return str(part.get("dateTime") or part.get("date") or "")


def _events_table(state: EmulatorState, calendar_id: str) -> str:
    events = state.events(calendar_id) if calendar_id in state.calendars else []
    if not events:
        return '<p class="muted">No events.</p>'
    rows = "".join(
        f"<tr><td>{_e(event.get('summary') or '(no title)')}</td>"
        f"<td>{_e(_when(event.get('start')))} – {_e(_when(event.get('end')))}</td>"
        f"<td><code>{_e(event.get('id'))}</code></td><td>{_e(event.get('status'))}</td></tr>"
        for event in sorted(events, key=lambda event: _when(event.get("start")))
    )
    return f"<table><tr><th>Title</th><th>Time</th><th>Id</th><th>Status</th></tr>{rows}</table>"


def _calendars(state: EmulatorState, email: str) -> str:
    parts = []
    for entry in state.calendar_lists.get(email, {}).values():
        calendar = state.calendars.get(entry.calendar_id)
        summary = calendar.summary if calendar is not None else entry.calendar_id
        gone = '<span class="flag">removed from list</span>' if entry.deleted else ""
        parts.append(
            f"<h3>{_e(summary)} <span class='muted'>{_e(entry.calendar_id)} · {_e(entry.access_role)}"
            f"</span>{gone}</h3>{_events_table(state, entry.calendar_id)}"
        )
    return "".join(parts) or '<p class="muted">No calendars.</p>'


def _grant_row(grant: Grant) -> str:
    scopes = ", ".join(scope.rsplit("/", 1)[-1] for scope in grant.scopes)
    created = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(grant.created))
    expires = (
        time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(grant.expires_at)) if grant.expires_at else "never"
    )
    kind = "refresh token" if grant.refresh_token else "access token only"
    return f"<tr><td>{_e(scopes)}</td><td>{_e(kind)}</td><td>{_e(created)}</td><td>{_e(expires)}</td></tr>"


def _grants(state: EmulatorState, email: str) -> str:
    live = state.live_grants(email)
    if not live:
        return '<p class="muted">No live grants: no app has access to this account.</p>'
    rows = "".join(_grant_row(grant) for grant in live)
    return f"<table><tr><th>Scopes</th><th>Kind</th><th>Granted</th><th>Expires</th></tr>{rows}</table>"


def _security_forms(state: EmulatorState, email: str) -> str:
    """One button per security event; the receiver is the one configured (`--risc-receiver`),
    otherwise each form asks for it."""
    receiver = state.risc_receiver_url
    if receiver:
        field, to = "", f'<span class="muted"> to {_e(receiver)}</span>'
    else:
        field = (
            '<input type="url" name="receiver_url" required placeholder="http://127.0.0.1:8081/risc" '
            'aria-label="receiver URL">'
        )
        to = '<span class="muted"> (to the receiver URL you give)</span>'
    forms = []
    for event_type, reason, label in SECURITY_EVENTS:
        fields = {"event_type": event_type, "email": email}
        if reason:
            fields["reason"] = reason
        if receiver:
            fields["receiver_url"] = receiver
        forms.append(_form("risc/send", label, fields, extra=field))
    return f"<div><b>Send a security event</b>{to}<br>{''.join(forms)}</div>"


def _account(state: EmulatorState, user: EmuUser) -> str:
    flags = "".join(
        f'<span class="flag">{label}</span>'
        for label, on in (("deleted", user.deleted), ("admin policy", user.admin_policy))
        if on
    )
    email = {"email": user.email}
    delete = (
        _form("restore_account", "Restore the account", email)
        if user.deleted
        else _form("delete_account", "Delete the account", email, danger=True)
    )
    actions = (
        _form("revoke_user", "Revoke access", email, danger=True)
        + _form("change_password", "Change the password", email)
        + delete
    )
    return (
        f'<section class="account"><h2>{_e(user.name)} &lt;{_e(user.email)}&gt;{flags}</h2>'
        f'<div class="muted">sub {_e(user.sub)}</div>'
        f'<div class="actions">{actions}</div>{_security_forms(state, user.email)}'
        f"<h3>Live grants</h3>{_grants(state, user.email)}{_calendars(state, user.email)}</section>"
    )


def render_page(state: EmulatorState, *, notice: str = "") -> str:
    """The whole page for the current state; ``notice`` says what the last button did."""
    accounts = "".join(_account(state, user) for user in state.users.values())
    banner = f'<p class="notice">{_e(notice)}</p>' if notice else ""
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>Google emulator</title><style>{_STYLE}</style></head><body>"
        "<h1>Google emulator</h1><p class='muted'>What Google would hold for a local run: accounts, "
        "calendars and events, and the grants our app got. The buttons change it as the account owner "
        "or Google would; JSON views and every operation: <code>/_emulator/&lt;name&gt;</code> "
        "(devtools/google_emulator/README.md).</p>"
        f"{banner}{accounts or '<p>No accounts yet.</p>'}</body></html>"
    )


def notice_from(query: Any) -> str:
    """The line shown after a button: which operation ran and, for a security event, the answer."""
    done = query.get("done", "")
    if not done:
        return ""
    status = query.get("status")
    error = query.get("error")
    if error:
        return f"{done} failed: {error}"
    return f"Done: {done}" + (f" (receiver answered {status})" if status else "")


def routes(state: EmulatorState) -> list[web.RouteDef]:
    """`GET /_emulator/`: the page."""

    async def page(request: web.Request) -> web.Response:
        return web.Response(
            text=render_page(state, notice=notice_from(request.query)), content_type="text/html"
        )

    return [web.get(PAGE_PATH, page)]
