"""Screenshots of every notifier email (each reason and kind, German and English) and of the
stop-reminders page, rendered from the real templates in headless Chromium into docs/emails/.

The subject, sender and recipient are shown in a grey bar above each email, as a mail client would.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from devtools.envfile import load_env_file
from devtools.screenshots.browser import chromium
from services.notifier.adapters.rendering import TOPICS, Templates
from services.notifier.domain.episodes import EPISODE_REASONS

# The brand `make run` uses (deploy/env.local), so the pictures show what a local run sends.
LOCAL_ENV = load_env_file(Path(__file__).resolve().parents[2] / "deploy" / "env.local")
PRODUCT = LOCAL_ENV["MAIL_PRODUCT_NAME"]
SENDER = LOCAL_ENV["MAIL_FROM"]
PEOPLE = {
    "de": ("Jürgen Müller", "jürgen.müller@example.com", "juergen.mueller@gmail.com"),
    "en": ("Alex Smith", "alex.smith@example.com", "alex.smith@gmail.com"),
}
DATES = {"de": ("5. Januar 2026", "12. Januar 2026"), "en": ("5 January 2026", "12 January 2026")}


def facts(topic: str, lang: str, *, reminder: int = 0) -> dict[str, Any]:
    name, _, google_email = PEOPLE[lang]
    since, expires = DATES[lang]
    context: dict[str, Any] = {
        "product": PRODUCT,
        "name": name,
        "google_email": None if topic == "security_block" else google_email,
        "link_url": "https://auth.pilotly.example/settings?link=…",
        "stop_url": "https://notify.pilotly.example/reminders/stop?e=…",
        "expires_date": expires,
    }
    if topic in EPISODE_REASONS:
        context.update(
            episode=True, reminder=reminder, reminders_left=3 - reminder, since_date=since, alert_date=since
        )
    if topic == "operator":
        context.update(
            operator=True,
            link_url=None,
            name=None,
            incident_id="inc-2026-01-05-0900",
            alert_kind="app_config",
            error="invalid_client",
            detail="token endpoint, 12 grants",
        )
    return context


def with_header(email_html: str, subject: str, to: str) -> str:
    bar = (
        '<div style="font-family:Arial,Helvetica,sans-serif;font-size:13px;background:#e5e7eb;'
        'color:#111827;padding:10px 16px;line-height:1.6;">'
        f"<div><b>From:</b> {html.escape(SENDER)}</div>"
        f"<div><b>To:</b> {html.escape(to)}</div>"
        f"<div><b>Subject:</b> {html.escape(subject)}</div></div>"
    )
    head, _, rest = email_html.partition("<body")
    tag_end = rest.index(">") + 1
    return f"{head}<body{rest[:tag_end]}{bar}{rest[tag_end:]}"


async def capture(out_dir: Path) -> None:
    """Write one PNG per email topic, language and (for one reason) the reminder form, plus the stop page."""
    target = out_dir.parent / "emails"
    target.mkdir(parents=True, exist_ok=True)
    templates = Templates()
    shots: list[tuple[str, str]] = []
    for lang in ("de", "en"):
        _, address, _ = PEOPLE[lang]
        for topic in TOPICS:
            email = templates.render(topic, lang, facts(topic, lang))
            to = "ops@pilotly.example" if topic == "operator" else address
            shots.append((f"{topic}-{lang}", with_header(email.html, email.subject, to)))
        reminder = templates.render("revoked", lang, facts("revoked", lang, reminder=1))
        shots.append((f"revoked-reminder-{lang}", with_header(reminder.html, reminder.subject, address)))
        page = templates.render_page(lang, state="confirm", product=PRODUCT)
        shots.append((f"stop-reminders-page-{lang}", page))
    async with chromium() as browser:
        context = await browser.new_context(viewport={"width": 680, "height": 600})
        page = await context.new_page()
        for name, content in shots:
            await page.set_content(content, wait_until="load")
            await page.screenshot(path=str(target / f"{name}.png"), full_page=True)
        await context.close()
