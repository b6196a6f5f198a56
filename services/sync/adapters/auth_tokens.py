"""Access tokens from auth over ``auth.rpc`` (``TokenRequested``), cached per user in memory until
shortly before they expire. Refresh tokens never reach sync."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from shared import messages as m
from shared.clock import Clock
from shared.rpc import RpcClient

EXPIRY_MARGIN = timedelta(seconds=60)


@dataclass(frozen=True)
class TokenAnswer:
    """A usable token, or why there is none (auth's status, reason and advice)."""

    status: str
    access_token: str | None = None
    reason: str | None = None
    retry_after: float | None = None


class AuthTokens:
    """Asks auth for a user's access token; ``forget`` drops a token Google refused."""

    def __init__(self, rpc: RpcClient, clock: Clock, *, timeout: float) -> None:
        self._rpc, self._clock, self._timeout = rpc, clock, timeout
        self._cache: dict[str, tuple[str, datetime]] = {}

    async def token(self, user_id: str, *, force_refresh: bool = False) -> TokenAnswer:
        cached = self._cache.get(user_id)
        if cached is not None and not force_refresh and cached[1] - EXPIRY_MARGIN > self._clock.now():
            return TokenAnswer("token", cached[0])
        self._cache.pop(user_id, None)
        reply = await self._ask(m.TokenRequested(user_id=user_id, force_refresh=force_refresh))
        if isinstance(reply, TokenAnswer):
            return reply
        if reply.status == "token" and reply.access_token is not None:
            if reply.expires_at is not None:
                self._cache[user_id] = (reply.access_token, reply.expires_at)
            return TokenAnswer("token", reply.access_token)
        return TokenAnswer(reply.status, reason=reply.reason, retry_after=reply.retry_after)

    async def deleted_grant_token(self, user_id: str, grant_id: str) -> TokenAnswer:
        """A token of the just-deleted grant, only to stop its watch channels (never cached)."""
        reply = await self._ask(m.TokenRequested(user_id=user_id, for_deleted_grant=grant_id))
        if isinstance(reply, TokenAnswer):
            return reply
        if reply.status == "token" and reply.access_token is not None:
            return TokenAnswer("token", reply.access_token)
        return TokenAnswer(reply.status, reason=reply.reason, retry_after=reply.retry_after)

    async def _ask(self, request: m.TokenRequested) -> m.TokenReply | TokenAnswer:
        try:
            reply = await self._rpc.call(request, timeout=self._timeout)
        except TimeoutError:
            return TokenAnswer("temporarily_unavailable", reason="auth did not answer in time")
        if not isinstance(reply, m.TokenReply):
            return TokenAnswer("temporarily_unavailable", reason=f"unexpected reply {reply.TYPE!r}")
        return reply

    def forget(self, user_id: str) -> None:
        self._cache.pop(user_id, None)
