"""Verifies Google's Security Event Tokens (google.md §11): issuer and JWKS from the configured RISC
configuration document (cached; keys refetched once on an unknown ``kid``), RS256, ``aud`` = our client
id, ``iss`` = the configured issuer, no ``exp`` check."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import jwt
import structlog

log = structlog.get_logger(__name__)


class InvalidSet(Exception):
    """The token is not a valid SET for us (the receiver answers 400)."""


class RiscUnavailable(Exception):
    """Google's configuration or keys cannot be fetched (the receiver answers 503; Google retries)."""


class RiscVerifier:
    def __init__(self, http: aiohttp.ClientSession, config_url: str, audiences: tuple[str, ...]) -> None:
        self._http = http
        self._config_url = config_url
        self._audiences = list(audiences)
        self._issuer: str | None = None
        self._jwks_uri: str | None = None
        self._keys: dict[str, Any] = {}
        self._fetched_at = 0.0
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
        started = time.monotonic()
        if self._issuer is None or kid not in self._keys:
            async with self._lock:
                if self._fetched_at < started:  # nobody refreshed while we waited
                    await self._fetch()
        key = self._keys.get(kid)
        if key is None:
            raise InvalidSet("unknown kid")
        return key

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
        self._fetched_at = time.monotonic()
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
