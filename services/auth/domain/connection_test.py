"""The connection test's result (pure): three steps, each ok, failed or skipped with a code the pages
and the API put into plain words. Step 1 (the grant) is auth's forced refresh; steps 2 and 3 (the
calendar and the watch channel) are sync's answer, skipped when step 1 failed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.auth.domain.token_answers import TokenAnswer

STEPS = ("grant", "calendar", "channel")
STATUSES = ("ok", "failed", "skipped")
DEAD_REASONS = ("revoked", "account_deleted", "admin_policy", "security_block", "access_expired")
CALENDAR_CODES = (
    "written_and_removed", "not_connected", "no_calendar", "not_writable", "needs_consent",
    "calendar_gone", "google_refused", "google_unavailable", "not_removed",
)  # fmt: skip
CHANNEL_CODES = ("push_received", "no_channel", "no_push", "pushes_off", "no_probe")


@dataclass(frozen=True)
class Step:
    name: str  # grant | calendar | channel
    status: str  # ok | failed | skipped
    code: str


@dataclass(frozen=True)
class ConnectionReport:
    steps: tuple[Step, Step, Step]
    calendar_id: str | None = None

    @property
    def ok(self) -> bool:
        return all(step.status == "ok" for step in self.steps)

    @property
    def grant(self) -> Step:
        return self.steps[0]


def grant_step(answer: TokenAnswer) -> Step:
    """Step 1 from the forced refresh's answer: ok, or why the grant gives no token."""
    if answer.status == "token":
        return Step("grant", "ok", "refreshed")
    if answer.status == "no_grant":
        return Step("grant", "failed", "no_grant")
    if answer.status == "disconnected":
        if answer.outcome == "suspended":
            return Step("grant", "failed", "suspended")
        reason = answer.reason if answer.reason in DEAD_REASONS else "disconnected"
        return Step("grant", "failed", str(reason))
    return Step("grant", "failed", "google_unavailable")


def without_grant(grant: Step) -> ConnectionReport:
    """Step 1 failed: nothing can be written or pushed without a token."""
    skipped = "grant_failed"
    return ConnectionReport(
        (grant, Step("calendar", "skipped", skipped), Step("channel", "skipped", skipped))
    )


def sync_unreachable(grant: Step) -> ConnectionReport:
    """sync could not be asked: steps 2 and 3 could not be run."""
    return ConnectionReport(
        (grant, Step("calendar", "failed", "unreachable"), Step("channel", "failed", "unreachable"))
    )


def from_sync(grant: Step, answer: dict[str, Any]) -> ConnectionReport:
    """Steps 2 and 3 from sync's answer; an answer auth does not understand counts as unreachable."""
    calendar = _sync_step("calendar", answer.get("calendar"), CALENDAR_CODES)
    channel = _sync_step("channel", answer.get("channel"), CHANNEL_CODES)
    if calendar is None or channel is None:
        return sync_unreachable(grant)
    calendar_id = answer.get("calendar_id")
    return ConnectionReport((grant, calendar, channel), calendar_id if isinstance(calendar_id, str) else None)


def _sync_step(name: str, value: object, codes: tuple[str, ...]) -> Step | None:
    if not isinstance(value, dict):
        return None
    status, code = value.get("status"), value.get("code")
    if status not in STATUSES or code not in codes:
        return None
    return Step(name, str(status), str(code))
