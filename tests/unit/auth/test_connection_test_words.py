"""Every outcome of the connection test has its sentence in German and English, and sync's answer
is read strictly (anything unexpected counts as sync being unreachable)."""

from __future__ import annotations

import pytest

from services.auth.domain import connection_test as ct
from services.auth.domain.token_answers import TokenAnswer
from services.auth.entrypoints.connection_test_texts import TEXTS, sentence

OUTCOMES = [
    *(("grant", "ok", code) for code in ("refreshed",)),
    *(
        ("grant", "failed", code)
        for code in (*ct.DEAD_REASONS, "suspended", "disconnected", "no_grant", "google_unavailable")
    ),
    ("calendar", "ok", "written_and_removed"),
    *(("calendar", "failed", code) for code in ct.CALENDAR_CODES[1:]),
    ("calendar", "failed", "unreachable"),
    ("calendar", "skipped", "grant_failed"),
    ("channel", "ok", "push_received"),
    *(("channel", "failed", code) for code in ("no_channel", "no_push", "unreachable")),
    *(("channel", "skipped", code) for code in ("pushes_off", "no_probe", "grant_failed")),
]


@pytest.mark.parametrize("locale", ["de", "en"])
@pytest.mark.parametrize(("name", "status", "code"), OUTCOMES)
def test_every_outcome_reads_in_both_languages(locale: str, name: str, status: str, code: str) -> None:
    report = ct.ConnectionReport(
        (ct.Step("grant", "ok", "refreshed"), ct.Step("calendar", "ok", "x"), ct.Step("channel", "ok", "x")),
        "team@group.calendar.google.com",
    )
    text = sentence(ct.Step(name, status, code), report, locale)
    assert text.endswith(".") and "{" not in text
    assert TEXTS[locale][f"status.{status}"] and TEXTS[locale][f"title.{name}"]


def test_a_dead_grant_names_its_reason_and_odd_answers_from_sync_count_as_unreachable() -> None:
    assert (
        ct.grant_step(TokenAnswer("disconnected", "refresh", reason="account_deleted")).code
        == "account_deleted"
    )
    assert (
        ct.grant_step(TokenAnswer("disconnected", "suspended", reason="security_block")).code == "suspended"
    )
    assert ct.grant_step(TokenAnswer("temporarily_unavailable", "busy")).code == "google_unavailable"
    grant = ct.Step("grant", "ok", "refreshed")
    odd = ct.from_sync(grant, {"calendar": {"status": "ok", "code": "made_up"}, "channel": {}})
    assert [s.code for s in odd.steps] == ["refreshed", "unreachable", "unreachable"]
    fine = {"calendar_id": "c", "calendar": {"status": "ok", "code": "written_and_removed"},
            "channel": {"status": "failed", "code": "no_push"}}  # fmt: skip
    assert not ct.from_sync(grant, fine).ok and ct.from_sync(grant, fine).calendar_id == "c"
