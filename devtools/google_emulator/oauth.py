"""Google's OAuth endpoints as the emulator serves them: consent (auto, no UI), token exchange
and refresh, revocation and userinfo (docs/google.md §2-5)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from typing import Any
from urllib.parse import unquote, urlencode

from aiohttp import web

from .errors import oauth_error
from .records import IDENTITY_SCOPES, AuthCode, EmuUser, Grant, new_code, new_refresh_token
from .state import EmulatorState

_LOOPBACK = re.compile(r"^http://(127\.0\.0\.1|localhost)(:\d+)?(/[^#]*)?$")
_CODE_TTL = 600.0


def _page(status: int, error: str, detail: str) -> web.Response:
    html = f"<html><body><h1>Error {status}: {error}</h1><p>{detail}</p></body></html>"
    return web.Response(status=status, text=html, content_type="text/html")


def _redirect(uri: str, params: dict[str, str]) -> web.Response:
    sep = "&" if "?" in uri else "?"
    return web.Response(status=302, headers={"Location": uri + sep + urlencode(params)})


def _pkce_ok(challenge: str, method: str, verifier: str) -> bool:
    if method == "S256":
        digest = hashlib.sha256(verifier.encode("ascii")).digest()
        expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
        return hmac.compare_digest(expected, challenge)
    return hmac.compare_digest(verifier, challenge)


def routes(state: EmulatorState) -> list[web.RouteDef]:
    """Consent, token, revoke and userinfo."""
    return OAuthEndpoints(state).routes()


class OAuthEndpoints:
    """Request handlers bound to one emulator state."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/o/oauth2/v2/auth", self.authorize),
            web.post("/token", self.token),
            web.post("/revoke", self.revoke),
            web.get("/revoke", self.revoke_get),
            web.get("/v1/userinfo", self.userinfo),
        ]

    def _signed_in_user(self, login_hint: str | None) -> EmuUser | None:
        users = self.state.users
        for user in users.values():
            if login_hint and login_hint in (user.email, user.sub):
                return user
        if self.state.consent.email:
            return users.get(self.state.consent.email)
        return next(iter(users.values()), None)

    def _granted(self, requested: list[str], user: EmuUser, client_id: str, include: bool) -> list[str]:
        allowed = self.state.consent.granted_scopes
        granted = [
            IDENTITY_SCOPES.get(s, s)
            for s in requested
            if allowed is None or s in allowed or s in IDENTITY_SCOPES
        ]
        if include:
            for grant in self.state.live_grants(user.email):
                if grant.client_id == client_id:
                    granted += [s for s in grant.scopes if s not in granted]
        return granted

    def _redirect_ok(self, uri: str) -> bool:
        return uri in self.state.redirect_uris or bool(_LOOPBACK.match(uri))

    async def authorize(self, request: web.Request) -> web.Response:
        q = request.query
        if q.get("client_id") != self.state.client_id or self.state.client_disabled:
            return _page(401, "invalid_client", "The OAuth client was not found.")
        redirect_uri = q.get("redirect_uri", "")
        if not self._redirect_ok(redirect_uri):
            return _page(400, "redirect_uri_mismatch", "redirect_uri does not match.")
        if q.get("response_type") != "code" or not q.get("scope"):
            return _page(400, "invalid_request", "Missing or invalid response_type or scope.")
        state = {"state": q["state"]} if "state" in q else {}
        user = self._signed_in_user(q.get("login_hint"))
        if user is None or self.state.consent.deny:
            return _redirect(redirect_uri, {"error": "access_denied", **state})
        if user.admin_policy:
            return _redirect(redirect_uri, {"error": "admin_policy_enforced", **state})
        include = q.get("include_granted_scopes") == "true"
        scopes = self._granted(q["scope"].split(), user, self.state.client_id, include)
        live = any(
            g.refresh_token and g.client_id == self.state.client_id
            for g in self.state.live_grants(user.email)
        )
        consent_shown = "consent" in q.get("prompt", "").split() or not live
        code = new_code()
        self.state.codes[code] = AuthCode(
            email=user.email,
            client_id=self.state.client_id,
            redirect_uri=redirect_uri,
            scopes=scopes,
            code_challenge=q.get("code_challenge"),
            code_challenge_method=q.get("code_challenge_method", "plain"),
            issue_refresh_token=q.get("access_type") == "offline" and consent_shown,
            nonce=q.get("nonce"),
            expires_at=time.time() + _CODE_TTL,
        )
        params = {"code": code, **state, "scope": " ".join(scopes), "authuser": "0"}
        return _redirect(redirect_uri, params)

    def _client_auth(self, request: web.Request, form: dict[str, str]) -> web.Response | None:
        client_id, secret = form.get("client_id"), form.get("client_secret")
        header = request.headers.get("Authorization", "")
        if header.startswith("Basic "):
            try:
                decoded = base64.b64decode(header[len("Basic ") :], validate=True).decode()
            except ValueError:
                return oauth_error(401, "invalid_client", "Unauthorized")
            user, _, password = decoded.partition(":")
            client_id, secret = unquote(user), unquote(password)
        if self.state.client_disabled:
            return oauth_error(401, "invalid_client", "The OAuth client was not found.")
        if client_id != self.state.client_id:
            return oauth_error(401, "invalid_client", "The OAuth client was not found.")
        if secret != self.state.client_secret:
            return oauth_error(401, "invalid_client", "Unauthorized")
        return None

    async def token(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        failure = self._client_auth(request, form)
        if failure is not None:
            return failure
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            return self._exchange(form)
        if grant_type == "refresh_token":
            return self._refresh(form)
        return oauth_error(400, "unsupported_grant_type", f"Invalid grant_type: {grant_type}")

    def _exchange(self, form: dict[str, str]) -> web.Response:
        rec = self.state.codes.get(form.get("code", ""))
        if rec is None or rec.used or rec.expires_at < time.time():
            return oauth_error(400, "invalid_grant", "Bad Request")
        rec.used = True
        if form.get("redirect_uri") != rec.redirect_uri:
            return oauth_error(400, "redirect_uri_mismatch", "Bad Request")
        if rec.code_challenge:
            verifier = form.get("code_verifier")
            if not verifier:
                return oauth_error(400, "invalid_grant", "Missing code verifier.")
            if not _pkce_ok(rec.code_challenge, rec.code_challenge_method, verifier):
                return oauth_error(400, "invalid_grant", "Invalid code verifier.")
        user = self.state.users[rec.email]
        if user.deleted:
            return oauth_error(400, "invalid_grant", "Account has been deleted")
        refresh = new_refresh_token() if rec.issue_refresh_token else None
        grant = Grant(rec.email, rec.client_id, rec.scopes, refresh)
        if user.time_limit_seconds is not None:
            grant.expires_at = time.time() + user.time_limit_seconds
        self.state.record_grant(grant)
        body = self._token_body(grant, rec.scopes, nonce=rec.nonce)
        if refresh:
            body["refresh_token"] = refresh
        return web.json_response(body, headers={"Cache-Control": "no-cache, no-store"})

    def _refresh(self, form: dict[str, str]) -> web.Response:
        token = form.get("refresh_token", "")
        grant = self.state.grant_for_refresh_token(token)
        if grant is None:
            return oauth_error(400, "invalid_grant", "Bad Request")
        if grant.client_id != form.get("client_id", self.state.client_id):
            return oauth_error(401, "unauthorized_client", "Unauthorized")
        user = self.state.users[grant.email]
        if user.deleted:
            return oauth_error(400, "invalid_grant", "Account has been deleted")
        expired = grant.expires_at is not None and grant.expires_at <= time.time()
        if grant.revoked or expired:
            return oauth_error(400, "invalid_grant", "Token has been expired or revoked.")
        if user.admin_policy:
            return oauth_error(400, "admin_policy_enforced", "Access to the requested scope is restricted.")
        scopes = grant.scopes
        if form.get("scope"):
            scopes = form["scope"].split()
            if any(s not in grant.scopes for s in scopes):
                return oauth_error(400, "invalid_scope", "Bad Request")
        return web.json_response(self._token_body(grant, scopes, nonce=None))

    def _token_body(self, grant: Grant, scopes: list[str], *, nonce: str | None) -> dict[str, Any]:
        access = self.state.issue_access_token(grant, scopes)
        body: dict[str, Any] = {
            "access_token": access,
            "expires_in": self.state.access_token_ttl,
            "scope": " ".join(scopes),
            "token_type": "Bearer",
        }
        if self.state.omit_scope:
            del body["scope"]
        if grant.expires_at is not None:
            body["refresh_token_expires_in"] = max(0, int(grant.expires_at - time.time()))
        if "openid" in scopes:
            body["id_token"] = self.state.keys.make_id_token(
                self.state.user(grant.email), scopes, nonce=nonce
            )
        return body

    async def revoke(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        token = form.get("token") or request.query.get("token", "")
        access = self.state.access_tokens.get(token)
        grant = access.grant if access else None
        if grant is None:
            grant = self.state.grant_for_refresh_token(token)
        if grant is None or grant.revoked:
            return oauth_error(400, "invalid_token", "Token expired or revoked")
        self.state.revoke_grant(grant)
        return web.json_response({})

    async def revoke_get(self, _request: web.Request) -> web.Response:
        return web.Response(status=404, text="Not Found")

    async def userinfo(self, request: web.Request) -> web.Response:
        header = request.headers.get("Authorization", "")
        access = self.state.access_token_for(header.removeprefix("Bearer ").strip())
        if not header.startswith("Bearer ") or access is None:
            return oauth_error(401, "invalid_request", "Invalid Credentials")
        user = self.state.users[access.grant.email]
        body: dict[str, Any] = {"sub": user.sub}
        if IDENTITY_SCOPES["email"] in access.scopes:
            body.update(email=user.email, email_verified=True)
        if IDENTITY_SCOPES["profile"] in access.scopes:
            body["name"] = user.name
        return web.json_response(body)
