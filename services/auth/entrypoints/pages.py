"""Server-rendered pages (Jinja2 templates, German or English): settings, delete confirmation,
OAuth results and error pages, all sent with headers that keep them out of caches, frames and
Referer headers."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
from aiohttp import web

from services.auth.domain.outcomes import Outcome
from services.auth.entrypoints.calendar_texts import TEXTS as CALENDAR_TEXTS
from services.auth.entrypoints.connection_test_texts import TEXTS as TEST_TEXTS
from services.auth.entrypoints.texts import MONTHS_EN, TEXTS
from services.auth.usecases.connection import Status

_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent.parent / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def when(value: datetime, locale: str) -> str:
    """A UTC moment as people write it: '25.11.2026, 18:40 UTC' / '25 Nov 2026, 18:40 UTC'."""
    if locale == "de":
        return value.strftime("%d.%m.%Y, %H:%M UTC")
    return f"{value.day} {MONTHS_EN[value.month - 1]} {value.year}, {value:%H:%M} UTC"


def state_text(status: Status, locale: str) -> str:
    t = TEXTS[locale]
    if status.state == "connected":
        if status.google_email:
            return t["state.connected"].format(email=status.google_email)
        return t["state.connected_no_email"]
    if status.state == "disconnected":
        return t.get(f"state.disconnected.{status.reason}", t["state.disconnected"])
    if status.state == "suspended":
        return t["state.suspended"]
    return t["state.none"]


def _render(
    template: str, locale: str, http_status: int, *, form_action: str = "", **context: Any
) -> web.Response:
    body = _ENV.get_template(template).render(lang=locale, t=TEXTS[locale], **context)
    response = web.Response(text=body, status=http_status, content_type="text/html", charset="utf-8")
    response.headers.update(
        {
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": "DENY",
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
            f"form-action 'self' {form_action}; frame-ancestors 'none'; base-uri 'none'",
        }
    )
    return response


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def settings(
    status: Status,
    *,
    account: str,
    locale: str,
    csrf: str,
    notice: str | None,
    google_auth_url: str,
    calendar: Any = None,  # calendar_page.CalendarView: the Calendar section (_calendar.html)
    tested: Any = None,  # connection_test_page.ResultView: the test's results (_connection_test.html)
) -> web.Response:
    t = TEXTS[locale]
    return _render(
        "settings.html",
        locale,
        200,
        form_action=_origin(google_auth_url),  # /oauth/start redirects there
        account=t["platform.account"].format(account=account),
        status=status,
        state_text=state_text(status, locale),
        since=t["since"].format(when=when(status.since, locale)) if status.since else None,
        csrf=csrf,
        notice=t[f"notice.{notice}"] if notice else None,
        calendar=calendar,
        ct=CALENDAR_TEXTS[locale],
        tested=tested,
        xt=TEST_TEXTS[locale],
    )


def confirm_switch(*, current: str, incoming: str, token: str, csrf: str, locale: str) -> web.Response:
    """Ask before a link for another platform account replaces this browser's settings session."""
    t = TEXTS[locale]
    return _render(
        "confirm_switch.html",
        locale,
        200,
        text=t["switch.text"].format(current=current, incoming=incoming),
        switch=t["switch.submit"].format(incoming=incoming),
        stay=t["switch.stay"].format(current=current),
        token=token,
        csrf=csrf,
    )


def confirm_delete(status: Status, *, locale: str, csrf: str, unconfirmed: bool = False) -> web.Response:
    t = TEXTS[locale]
    label = t["delete.confirm"].format(email=status.google_email) if status.google_email else None
    return _render(
        "confirm_delete.html",
        locale,
        400 if unconfirmed else 200,
        label=label or t["delete.confirm_no_email"],
        csrf=csrf,
        unconfirmed=unconfirmed,
    )


def result(outcome: Outcome, *, fallback_locale: str) -> web.Response:
    locale = outcome.locale or fallback_locale
    t = TEXTS[locale]
    kind = outcome.kind
    message = t[f"result.{kind}"].format(email=outcome.google_email or "")
    if kind == "google_error" and outcome.error == "admin_policy_enforced":
        message = t["result.admin_policy"]
    note = None
    if outcome.account_changed and outcome.previous_email:
        note = t["result.account_changed"].format(previous=outcome.previous_email, email=outcome.google_email)
    return _render(
        "result.html",
        locale,
        outcome.status,
        kind=kind,
        heading=t[f"result.{kind}.title"],
        message=message,
        note=note,
        missing=[t.get("scope." + s, s) for s in outcome.missing],
    )


def error(kind: str, *, locale: str, status: int) -> web.Response:
    """A dead end with an explanation: forged or expired link, no session, refused form."""
    return _render("error.html", locale, status, heading=TEXTS[locale][f"error.{kind}.title"])
