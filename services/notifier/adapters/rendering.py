"""Turns an email's topic, language and facts into subject, plain text and HTML from templates/.

Templates are Jinja2 files a non-developer can edit (see templates/README.md). HTML is autoescaped;
unknown variables fail loudly so that a typo in a template never reaches a user as an empty gap.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from services.notifier.domain.episodes import EPISODE_REASONS
from services.notifier.domain.language import Language

TEMPLATES = Path(__file__).parent.parent / "templates"
TOPICS = (*EPISODE_REASONS, "reconnected", "expiring", "operator")


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


class Templates:
    """The loaded template set; ``render`` is cheap after the first use of a template."""

    def __init__(self, directory: Path = TEMPLATES) -> None:
        self._env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(directory),
            autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default_for_string=False),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )

    def render(self, topic: str, lang: Language, context: dict[str, Any]) -> RenderedEmail:
        """Render ``topic`` (a reason, 'reconnected', 'expiring' or 'operator') in ``lang``."""
        if topic not in TOPICS:
            raise ValueError(f"unknown email topic {topic!r}")
        values = {**_DEFAULTS, **context, "lang": lang}
        subject = self._env.get_template(f"{lang}/{topic}.subject.txt").render(values)
        subject = " ".join(subject.split())
        values["subject"] = subject
        text = self._env.get_template(f"{lang}/{topic}.txt").render(values)
        html = self._env.get_template(f"{lang}/{topic}.html").render(values)
        return RenderedEmail(subject=subject, text=_tidy_text(text), html=html)

    def render_page(self, lang: Language, *, state: str, product: str, action: str = "") -> str:
        """The stop-reminders page: ``state`` is confirm, done or invalid."""
        template = self._env.get_template(f"{lang}/_stop_page.html")
        return template.render(state=state, product=product, action=action)


_DEFAULTS: dict[str, Any] = {
    "name": None,
    "google_email": None,
    "link_url": None,
    "stop_url": None,
    "episode": False,
    "operator": False,
    "reminder": 0,
    "reminders_left": 0,
    "alert_date": None,
    "since_date": None,
    "expires_date": None,
    "incident_id": None,
    "alert_kind": None,
    "error": None,
    "detail": None,
}


def _tidy_text(text: str) -> str:
    """At most one empty line in a row, no trailing spaces except the signature separator '-- '."""
    lines = [line if line == "-- " else line.rstrip() for line in text.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)) + "\n"
