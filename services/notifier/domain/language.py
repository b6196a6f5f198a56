"""Language and dates in emails: German for German locales, English otherwise.

Pure: used when an email or the stop page is rendered.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

Language = Literal["de", "en"]

_MONTHS = {
    "de": (
        "Januar",
        "Februar",
        "März",
        "April",
        "Mai",
        "Juni",
        "Juli",
        "August",
        "September",
        "Oktober",
        "November",
        "Dezember",
    ),
    "en": (
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ),
}


def language(locale: str | None) -> Language:
    """German for any German locale (de, de-AT, de_CH, ...), English otherwise."""
    return "de" if (locale or "").lower().replace("_", "-").split("-")[0] == "de" else "en"


def format_date(when: datetime, lang: Language) -> str:
    """'5. Januar 2026' or '5 January 2026' (UTC date)."""
    month = _MONTHS[lang][when.month - 1]
    return f"{when.day}. {month} {when.year}" if lang == "de" else f"{when.day} {month} {when.year}"
