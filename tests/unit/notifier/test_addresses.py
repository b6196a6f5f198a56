"""The up-front check of recipients and header values: what can never be sent is named, the rest passes."""

from __future__ import annotations

import pytest

from services.notifier.domain.addresses import UNUSABLE, header_problem, recipient_problem


@pytest.mark.parametrize(
    ("address", "name"),
    [
        ("anna@platform.example", "Anna"),
        ("anna.berg+calsync@mail.platform.example", "Anna Müller-Lüdenscheidt"),
        ("ops@localhost", None),
        ("jürgen.müller@bücher.example", "Jürgen Müller"),
        ("o'brien@example.org", 'Séan "the boss" O\'Brien'),
    ],
)
def test_usable_recipients_pass(address: str, name: str | None) -> None:
    """Ordinary addresses and display names, quotes and umlauts included, are accepted."""
    assert recipient_problem(address, name) is None


@pytest.mark.parametrize(
    ("address", "name", "reason"),
    [
        (None, "Anna", "no_address"),
        ("", None, "no_address"),
        ("anna.platform.example", None, "invalid_address"),
        ("anna@platform.example\r\nBcc: all@evil.example", None, "invalid_address"),
        ("anna@platform.example\n", None, "invalid_address"),
        ("anna@@platform.example", None, "invalid_address"),
        ("anna berg@platform.example", None, "invalid_address"),
        ("<anna@platform.example>", None, "invalid_address"),
        ("anna@platform..example", None, "invalid_address"),
        ("anna@", None, "invalid_address"),
        ("anna@platform.example.", None, "invalid_address"),
        ("x" * 65 + "@platform.example", None, "invalid_address"),
        ("anna@" + "d" * 250 + ".example", None, "invalid_address"),
        ("anna@platform.example", "Anna\r\nBcc: all@evil.example", "invalid_name"),
        ("anna@platform.example", "Anna\x00", "invalid_name"),
    ],
)
def test_unusable_recipients_are_named(address: str | None, name: str | None, reason: str) -> None:
    """A missing or malformed address, or a name with line breaks, gets its reason and a text for it."""
    assert recipient_problem(address, name) == reason
    assert UNUSABLE[reason]


def test_header_values_with_line_breaks_are_refused() -> None:
    """A header value that could start another header is refused; ordinary values pass."""
    assert (
        header_problem(
            {"Subject": "Ihr Kalender ist nicht mehr verbunden", "List-Unsubscribe": "<https://x/>"}
        )
        is None
    )
    assert header_problem({"Subject": "Hello\r\nBcc: all@evil.example"}) == "unsafe_header"
    assert (
        header_problem({"Subject": "fine", "List-Unsubscribe": "<https://x/>\nX-Evil: 1"}) == "unsafe_header"
    )
