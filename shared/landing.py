"""The short HTML page a service answers at ``/`` (``shared.web.add_landing_page``): what it is,
where its public pages are, and that probes and metrics live on the internal port. Pure: no I/O."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Link:
    """A public page of the service: its label, its address and an optional one-line note."""

    label: str
    href: str
    note: str = ""


_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:44rem;margin:3rem auto;padding:0 1rem;"
    "color:#111827;line-height:1.5}h1{font-size:1.6rem;margin-bottom:.4rem}"
    "ul{padding-left:1.2rem}li{margin:.3rem 0}.note{color:#4b5563;font-size:.9rem}"
    "code{background:#f3f4f6;padding:0 .25rem;border-radius:3px}"
)


def landing_html(
    title: str, description: str, links: Sequence[Link], *, internal_port: int | None = None
) -> str:
    """The landing page; every text is escaped. ``internal_port``: where /healthz, /readyz and
    /metrics answer (left out when the program has no internal listener)."""
    items = "".join(
        f'<li><a href="{html.escape(link.href)}">{html.escape(link.label)}</a>'
        + (f' <span class="note">{html.escape(link.note)}</span>' if link.note else "")
        + "</li>"
        for link in links
    )
    pages = f"<h2>Pages</h2><ul>{items}</ul>" if items else ""
    internal = (
        f'<p class="note">Probes and metrics (<code>/healthz</code>, <code>/readyz</code>, '
        f"<code>/metrics</code>) are served on the internal port {internal_port}, not here.</p>"
        if internal_port
        else ""
    )
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><p>{html.escape(description)}</p>{pages}{internal}</body></html>"
    )
