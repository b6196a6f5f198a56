"""Which refresh failures end a grant, which pass, and which are our own configuration's fault."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.auth.adapters.crypto import DecryptionError
from services.auth.domain.oauth_types import OAuthError, OAuthTransportError
from services.auth.domain.refresh_decision import FailureClass, classify

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _oauth(error: str, status: int = 400, description: str | None = None) -> OAuthError:
    return OAuthError(error, None, status, description)


@pytest.mark.parametrize(
    ("exc", "failure", "reason"),
    [
        (
            _oauth("invalid_grant", description="Token has been expired or revoked."),
            FailureClass.DEAD,
            "revoked",
        ),
        (_oauth("invalid_grant", description="Bad Request"), FailureClass.DEAD, "revoked"),
        (
            _oauth("invalid_grant", description="Account has been deleted"),
            FailureClass.DEAD,
            "account_deleted",
        ),
        (_oauth("admin_policy_enforced"), FailureClass.DEAD, "admin_policy"),
        (_oauth("invalid_client", 401), FailureClass.APP_WIDE, None),
        (_oauth("deleted_client", 401), FailureClass.APP_WIDE, None),
        (_oauth("unauthorized_client", 401), FailureClass.APP_WIDE, None),
        (_oauth("rate_limit_exceeded", 429), FailureClass.TRANSIENT, None),
        (_oauth("temporarily_unavailable"), FailureClass.TRANSIENT, None),
        (_oauth("internal_failure"), FailureClass.TRANSIENT, None),
        (_oauth("invalid_request"), FailureClass.TRANSIENT, None),
        (OAuthTransportError("timeout"), FailureClass.TRANSIENT, None),
        (OAuthTransportError("503", status=503, error="server_error"), FailureClass.TRANSIENT, None),
        (DecryptionError("no configured key has id 'k0'"), FailureClass.INTERNAL, None),
        (RuntimeError("boom"), FailureClass.INTERNAL, None),
    ],
)
def test_failure_classes(exc: Exception, failure: FailureClass, reason: str | None) -> None:
    """Only Google's word that the grant is over disconnects a user; outages and our own mistakes never do."""
    verdict = classify(exc, refresh_token_expires_at=None, now=NOW)
    assert (verdict.failure, verdict.reason) == (failure, reason)


def test_time_limited_grant_past_its_end_is_access_expired() -> None:
    """A time-limited grant that ran out is reported as expired access, not as a revocation."""
    exc = _oauth("invalid_grant", description="Token has been expired or revoked.")
    verdict = classify(exc, refresh_token_expires_at=NOW - timedelta(seconds=1), now=NOW)
    assert verdict.reason == "access_expired"
    assert classify(exc, refresh_token_expires_at=NOW + timedelta(days=1), now=NOW).reason == "revoked"
