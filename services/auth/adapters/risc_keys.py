"""Verifies Google's Security Event Tokens (docs/google.md §11): issuer and JWKS from the configured RISC
configuration document (cached; refetched on an unknown ``kid``, at most once per interval), RS256,
``aud`` = our client id, ``iss`` = the configured issuer, no ``exp`` check."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import jwt
import structlog

log = structlog.get_logger(__name__)

DEFAULT_REFETCH_INTERVAL = 60.0  # seconds between key fetches caused by unknown kids


class InvalidSet(Exception):
    """The token is not a valid SET for us (the receiver answers 400)."""


class RiscUnavailable(Exception):
    """The token cannot be judged now: Google's configuration or keys cannot be fetched, or its
    ``kid`` is unknown while a refetch is not allowed yet (the receiver answers 503 with
    ``Retry-After``; Google retries the delivery)."""

    def __init__(self, message: str, *, retry_after: float = 60.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RiscVerifier:
    """Verifies SETs with cached keys. ``/risc`` is open to anyone, so an unknown ``kid`` makes it fetch
    Google's configuration and keys at most once per ``refetch_interval`` seconds. Within that interval
    such a token is answered "retry later" at once (it may be signed with a key Google has just
    rotated in, and a later fetch, whoever causes it, brings that key); only a ``kid`` still unknown
    right after a fetch is invalid."""

    def __init__(
        self,
        http: aiohttp.ClientSession,
        config_url: str,
        audiences: tuple[str, ...],
        *,
        refetch_interval: float = DEFAULT_REFETCH_INTERVAL,
    ) -> None:
        self._http = http
        self._config_url = config_url
        self._audiences = list(audiences)
        self._refetch_interval = refetch_interval
        self._issuer: str | None = None
        self._jwks_uri: str | None = None
        self._keys: dict[str, Any] = {}
        self._attempted_at: float | None = None  # monotonic time of the last fetch attempt
        self._lock = asyncio.Lock()

    async def verify(self, token: str) -> dict[str, Any]:
        """The claims of a valid SET; raises InvalidSet or RiscUnavailable."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidSet(f"malformed token: {type(exc).__name__}") from None
        kid = header.get("kid")
        if header.get("alg") != "RS256" or not isinstance(kid, str):
            raise InvalidSet("token must be RS256 with a kid")
        key = await self._key(kid)
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=["RS256"],
                audience=self._audiences,
                issuer=self._issuer,
                options={"verify_exp": False, "require": ["iss", "aud", "jti", "events"]},
            )
        except jwt.PyJWTError as exc:
            raise InvalidSet(f"{type(exc).__name__}") from None
        if not isinstance(claims.get("events"), dict) or not isinstance(claims.get("jti"), str):
            raise InvalidSet("events or jti malformed")
        return claims

    async def _key(self, kid: str) -> Any:
        key = self._known(kid)
        if key is not None:
            return key
        self._refuse_if_recent()
        async with self._lock:
            key = self._known(kid)  # someone fetched while we waited
            if key is None:
                self._refuse_if_recent()
                self._attempted_at = time.monotonic()
                await self._fetch()
        key = self._known(kid)
        if key is None:
            raise InvalidSet("unknown kid")
        return key

    def _known(self, kid: str) -> Any:
        return self._keys.get(kid) if self._issuer is not None else None

    def _refuse_if_recent(self) -> None:
        """Within the interval after a fetch attempt, an unknown kid is not worth another fetch yet:
        the sender is asked to retry once it is allowed (never told the token is invalid)."""
        if self._attempted_at is None:
            return
        wait = self._refetch_interval - (time.monotonic() - self._attempted_at)
        if wait <= 0:
            return
        if self._issuer is None:  # the last attempt failed: Google retries the delivery later
            raise RiscUnavailable("RISC configuration unavailable; retrying later", retry_after=wait)
        raise RiscUnavailable("unknown kid; keys are fetched again later", retry_after=wait)

    async def _fetch(self) -> None:
        config = await self._get_json(self._config_url)
        issuer, jwks_uri = config.get("issuer"), config.get("jwks_uri")
        if not isinstance(issuer, str) or not isinstance(jwks_uri, str):
            raise RiscUnavailable("RISC configuration lacks issuer or jwks_uri")
        jwks = await self._get_json(jwks_uri)
        keys: dict[str, Any] = {}
        for jwk in jwks.get("keys", []):
            try:
                keys[jwk["kid"]] = jwt.PyJWK(jwk).key
            except (KeyError, TypeError, jwt.PyJWTError):
                log.warning("risc_key_skipped")
        self._issuer, self._jwks_uri, self._keys = issuer, jwks_uri, keys
        log.info("risc_keys_fetched", issuer=issuer, keys=len(keys))

    async def _get_json(self, url: str) -> dict[str, Any]:
        try:
            async with self._http.get(url, timeout=aiohttp.ClientTimeout(total=10)) as resp:
                resp.raise_for_status()
                data = await resp.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise RiscUnavailable(f"{type(exc).__name__} fetching {url}") from None
        if not isinstance(data, dict):
            raise RiscUnavailable(f"{url} is not a JSON object")
        return data
