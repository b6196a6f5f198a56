"""Google's error bodies, byte-compatible in shape: OAuth `{"error", "error_description"}` and
Calendar `{"error": {"code", "message", "errors": [...]}}` (docs/google.md §3, §6)."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

_STATUS_TEXT = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    410: "FAILED_PRECONDITION",
    412: "FAILED_PRECONDITION",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


def oauth_error(status: int, error: str, description: str | None = None) -> web.Response:
    body: dict[str, str] = {"error": error}
    if description is not None:
        body["error_description"] = description
    return web.json_response(body, status=status)


def api_error_body(
    code: int,
    reason: str,
    message: str,
    *,
    domain: str = "global",
    item_message: str | None = None,
    location: str | None = None,
    location_type: str | None = None,
) -> dict[str, Any]:
    item: dict[str, str] = {"domain": domain, "reason": reason, "message": item_message or message}
    if location is not None:
        item["locationType"] = location_type or "parameter"
        item["location"] = location
    return {"error": {"code": code, "message": message, "errors": [item]}}


def api_error(code: int, reason: str, message: str, **kw: Any) -> web.Response:
    return web.json_response(api_error_body(code, reason, message, **kw), status=code)


def auth_error(missing: bool) -> web.Response:
    if missing:
        return api_error(401, "required", "Login Required.", location="Authorization", location_type="header")
    body = api_error_body(
        401,
        "authError",
        "Request had invalid authentication credentials. Expected OAuth 2 access token, login "
        "cookie or other valid authentication credential. See "
        "https://developers.google.com/identity/sign-in/web/devconsole-project.",
        item_message="Invalid Credentials",
        location="Authorization",
        location_type="header",
    )
    body["error"]["status"] = "UNAUTHENTICATED"
    return web.json_response(body, status=401)


def insufficient_scopes(method_id: str) -> web.Response:
    body = api_error_body(
        403,
        "insufficientPermissions",
        "Request had insufficient authentication scopes.",
        item_message="Insufficient Permission",
    )
    body["error"]["status"] = "PERMISSION_DENIED"
    body["error"]["details"] = [
        {
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
            "domain": "googleapis.com",
            "metadata": {"service": "calendar-json.googleapis.com", "method": method_id},
        }
    ]
    return web.json_response(body, status=403)


def not_found() -> web.Response:
    return api_error(404, "notFound", "Not Found")


def bad_param(name: str, message: str) -> web.Response:
    return api_error(400, "invalid", message, location=name)


def required_access_level() -> web.Response:
    return api_error(
        403,
        "requiredAccessLevel",
        "You need to have writer access to this calendar.",
        domain="calendar",
    )


def fault_response(path: str, status: int, reason: str | None) -> web.Response:
    """The body Google sends for an injected failure, by endpoint family and status."""
    if not path.startswith("/calendar/"):
        error = {500: "internal_failure", 503: "temporarily_unavailable"}.get(status, "server_error")
        if status == 429:
            error = "rate_limit_exceeded"
        return oauth_error(status, error, "Service temporarily unavailable.")
    if status in (502, 504):
        html = f"<html><body><h1>{status} Server Error</h1>That's an error.</body></html>"
        return web.Response(status=status, text=html, content_type="text/html")
    if status in (403, 429):
        reason = reason or "rateLimitExceeded"
        message = {
            "quotaExceeded": "Calendar usage limits exceeded.",
            "userRateLimitExceeded": "User Rate Limit Exceeded",
        }.get(reason, "Rate Limit Exceeded")
        return api_error(status, reason, message, domain="usageLimits")
    if status == 500:
        return api_error(500, reason or "backendError", "Backend Error")
    if status == 503:
        return api_error(503, reason or "backendError", "The service is currently unavailable.")
    return api_error(status, reason or "unknown", _STATUS_TEXT.get(status, "Error"))


class Denied(Exception):
    """Carries the error response a check produced."""

    def __init__(self, response: web.Response) -> None:
        super().__init__(response.status)
        self.response = response


@web.middleware
async def denied_as_response(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every route: a Denied raised by a check becomes its error response."""
    try:
        return await handler(request)
    except Denied as denied:
        return denied.response
