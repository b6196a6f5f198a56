"""The settings page's connection test (templates/_connection_test.html): the button, and after
``POST /settings/connection-test`` the three results in plain words (usecases/connection_test)."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from services.auth.domain.connection_test import ConnectionReport
from services.auth.entrypoints.connection_test_texts import TEXTS, sentence
from services.auth.keys import GRANT_LOCKS, REFRESH, SYNC_API
from services.auth.usecases import connection_test


@dataclass(frozen=True)
class Row:
    """One step as the page shows it."""

    name: str  # grant | calendar | channel (the row's id and colour)
    status: str  # ok | failed | skipped
    title: str
    status_label: str
    text: str


@dataclass(frozen=True)
class ResultView:
    ok: bool
    summary: str
    rows: list[Row]


async def run(request: web.Request, user_id: str) -> ConnectionReport:
    """Run the test for the user (auth's refresh, then sync's probe)."""
    app = request.app
    return await connection_test.run(app[REFRESH], app[GRANT_LOCKS], app[SYNC_API], user_id)


def view(report: ConnectionReport, locale: str) -> ResultView:
    t = TEXTS[locale]
    rows = [
        Row(
            step.name,
            step.status,
            t[f"title.{step.name}"],
            t[f"status.{step.status}"],
            sentence(step, report, locale),
        )
        for step in report.steps
    ]
    return ResultView(report.ok, t["summary.ok" if report.ok else "summary.problem"], rows)
