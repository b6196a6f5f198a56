"""Google calls on a user's access token from auth: when Google answers 401, the cached token is
dropped and the call is made once more with a freshly refreshed one (``force_refresh``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import structlog

from services.sync.adapters.auth_tokens import AuthTokens
from shared.google.calendar import GoogleApiError, classify

log = structlog.get_logger(__name__)

T = TypeVar("T")


class NoToken(Exception):
    """auth gave no usable token; ``status`` (disconnected, no_grant, ...) says why."""

    def __init__(self, status: str, reason: str | None, retry_after: float | None) -> None:
        super().__init__(status)
        self.status, self.reason, self.retry_after = status, reason, retry_after


async def authorised(tokens: AuthTokens, user_id: str, call: Callable[[str], Awaitable[T]]) -> T:
    """Run ``call`` with the user's token; after a 401 once more with a refreshed one."""
    token = await _token(tokens, user_id, force_refresh=False)
    try:
        return await call(token)
    except GoogleApiError as err:
        if classify(err) != "auth":
            raise
        log.info("google_rejected_token", user_id=user_id)
    tokens.forget(user_id)
    return await call(await _token(tokens, user_id, force_refresh=True))


async def _token(tokens: AuthTokens, user_id: str, *, force_refresh: bool) -> str:
    answer = await tokens.token(user_id, force_refresh=force_refresh)
    if answer.access_token is None:
        raise NoToken(answer.status, answer.reason, answer.retry_after)
    return answer.access_token
