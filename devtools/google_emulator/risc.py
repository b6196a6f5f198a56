"""Discovery documents, the JWKS and Security Event Token delivery of the emulator (RISC,
docs/google.md §11): the keys live in the state (`keys`), this module serves and POSTs them."""

from __future__ import annotations

from typing import Any

import aiohttp
from aiohttp import web

from .state import EmulatorState


def risc_configuration(state: EmulatorState) -> dict[str, Any]:
    return {
        "issuer": state.keys.risc_issuer,
        "jwks_uri": state.base_url + "/oauth2/v3/certs",
        "delivery_methods_supported": ["https://schemas.openid.net/secevent/risc/delivery-method/push"],
        "add_subject_endpoint": state.base_url + "/v1beta/subjects:add",
        "remove_subject_endpoint": state.base_url + "/v1beta/subjects:remove",
    }


def openid_configuration(state: EmulatorState) -> dict[str, Any]:
    base = state.base_url
    return {
        "issuer": state.keys.id_token_issuer,
        "authorization_endpoint": base + "/o/oauth2/v2/auth",
        "token_endpoint": base + "/token",
        "userinfo_endpoint": base + "/v1/userinfo",
        "revocation_endpoint": base + "/revoke",
        "jwks_uri": base + "/oauth2/v3/certs",
        "response_types_supported": ["code"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        "code_challenge_methods_supported": ["plain", "S256"],
    }


async def post_set(http: aiohttp.ClientSession | None, receiver_url: str, token: str) -> int:
    """POST a signed (or forged) SET to a receiver; returns its HTTP status."""
    session = http or aiohttp.ClientSession()
    try:
        headers = {"Content-Type": "application/secevent+jwt", "User-Agent": "Google-RISC"}
        async with session.post(receiver_url, data=token.encode(), headers=headers) as resp:
            await resp.read()
            return resp.status
    finally:
        if session is not http:
            await session.close()


def routes(state: EmulatorState) -> list[web.RouteDef]:
    """The RISC and OpenID discovery documents and the JWKS."""

    async def risc(_: web.Request) -> web.Response:
        return web.json_response(risc_configuration(state))

    async def openid(_: web.Request) -> web.Response:
        return web.json_response(openid_configuration(state))

    async def certs(_: web.Request) -> web.Response:
        return web.json_response(state.keys.jwks(), headers={"Cache-Control": "public, max-age=300"})

    return [
        web.get("/.well-known/risc-configuration", risc),
        web.get("/.well-known/openid-configuration", openid),
        web.get("/oauth2/v3/certs", certs),
    ]
