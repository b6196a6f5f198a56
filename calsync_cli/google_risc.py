"""The CLI's side of Google's RISC management API (docs/google.md §11), for ``calsync risc``: the
service account's JSON key (``RISC_SERVICE_ACCOUNT_KEY_FILE``) signs a JWT good for one hour, sent as
Bearer with each call to ``RISC_API_URL`` (``https://risc.googleapis.com`` unless set). Google's
refusals become one-line ``CliError``s that say what to fix."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import jwt

from calsync_cli.client import TIMEOUT_SECONDS, CliError, one_line

DEFAULT_API_URL = "https://risc.googleapis.com"
AUDIENCE = "https://risc.googleapis.com/google.identity.risc.v1beta.RiscManagementService"
PUSH_DELIVERY = "https://schemas.openid.net/secevent/risc/delivery-method/push"
KEY_FILE_VARIABLE = "RISC_SERVICE_ACCOUNT_KEY_FILE"
TOKEN_SECONDS = 3600
MAX_KEY_FILE_BYTES = 64 * 1024

HINTS = {
    401: "Google refused the service account's credentials: is the key file current (not deleted in the"
    " Cloud console) and the machine's clock right?",
    403: "the receiver must be HTTPS on a domain of the Cloud project, risc.googleapis.com enabled with"
    " its terms accepted, the project must have an OAuth client, and the account needs"
    " roles/riscconfigs.admin",
    404: "Google has no security-event stream for this project yet: run `calsync risc register`",
}


@dataclass(frozen=True)
class ServiceAccountKey:
    """The parts of a service account's JSON key that sign a RISC management call."""

    email: str
    key_id: str
    private_key: str = field(repr=False)

    @classmethod
    def load(cls, env: Mapping[str, str]) -> ServiceAccountKey:
        path = env.get(KEY_FILE_VARIABLE, "").strip()
        if not path:
            raise CliError(
                f"{KEY_FILE_VARIABLE} is not set: the JSON key of a service account with"
                " roles/riscconfigs.admin (docs/operations.md)"
            )
        try:
            with open(path, "rb") as key_file:
                raw = key_file.read(MAX_KEY_FILE_BYTES + 1)
        except OSError as exc:
            raise CliError(f"{KEY_FILE_VARIABLE} {path} cannot be read: {exc.strerror}") from None
        try:
            data = json.loads(raw) if len(raw) <= MAX_KEY_FILE_BYTES else None
        except (ValueError, UnicodeDecodeError):
            data = None
        names = ("client_email", "private_key_id", "private_key")
        if not isinstance(data, dict) or data.get("type") != "service_account":
            raise CliError(f"{KEY_FILE_VARIABLE} {path} is not a service account's JSON key")
        if not all(isinstance(data.get(name), str) and data[name] for name in names):
            raise CliError(f"{KEY_FILE_VARIABLE} {path} lacks {', '.join(names)}")
        return cls(data["client_email"], data["private_key_id"], data["private_key"])

    def bearer(self, now: float) -> str:
        """A JWT naming the account (``iss`` = ``sub``), for the RISC management service, one hour long."""
        issued = int(now)
        claims = {
            "iss": self.email,
            "sub": self.email,
            "aud": AUDIENCE,
            "iat": issued,
            "exp": issued + TOKEN_SECONDS,
        }
        try:
            return jwt.encode(claims, self.private_key, algorithm="RS256", headers={"kid": self.key_id})
        except (ValueError, TypeError, jwt.PyJWTError):
            raise CliError(f"the private_key in {KEY_FILE_VARIABLE} is not an RSA key in PEM form") from None


class RiscApi:
    """Google's RISC management calls for one Cloud project (the service account's)."""

    def __init__(self, env: Mapping[str, str], http: aiohttp.ClientSession) -> None:
        self.base_url = (env.get("RISC_API_URL", "").strip() or DEFAULT_API_URL).rstrip("/")
        if not self.base_url.startswith(("http://", "https://")):
            raise CliError(f"RISC_API_URL must be an http:// or https:// URL, not {self.base_url!r}")
        self.key = ServiceAccountKey.load(env)
        self._http = http

    async def stream(self) -> dict[str, Any]:
        """The registered stream: ``delivery.url`` and ``events_requested``."""
        return await self._call("GET", "/v1beta/stream")

    async def update_stream(self, receiver_url: str, events: list[str]) -> dict[str, Any]:
        body = {
            "delivery": {"delivery_method": PUSH_DELIVERY, "url": receiver_url},
            "events_requested": events,
        }
        return await self._call("POST", "/v1beta/stream:update", body)

    async def status(self) -> str:
        return str((await self._call("GET", "/v1beta/stream/status")).get("status"))

    async def set_status(self, status: str) -> None:
        await self._call("POST", "/v1beta/stream/status:update", {"status": status})

    async def verify(self, state: str) -> None:
        """Ask Google to push a verification event carrying ``state`` to the stream's receiver."""
        await self._call("POST", "/v1beta/stream:verify", {"state": state})

    async def _call(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.key.bearer(time.time())}"}
        try:
            async with self._http.request(
                method,
                self.base_url + path,
                json=body,
                headers=headers,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=TIMEOUT_SECONDS),
            ) as response:
                status, text = response.status, await response.text()
        except aiohttp.ClientConnectionError as exc:
            raise CliError(f"Google's RISC API is unreachable at {self.base_url}: {one_line(exc)}") from None
        except TimeoutError:
            raise CliError(f"Google's RISC API did not answer within {TIMEOUT_SECONDS:g} s") from None
        answer = _json(text)
        if status >= 300:
            raise CliError(
                f"Google answered {status} to {path.rpartition('/')[2]}: {_message(answer, text)}"
                + (f"; {HINTS[status]}" if status in HINTS else "")
            )
        return answer if isinstance(answer, dict) else {}


def _json(text: str) -> Any:
    try:
        return json.loads(text) if text else {}
    except ValueError:
        return None


def _message(answer: Any, text: str) -> str:
    """Google's own words: ``error.message`` of its Cloud error body, else the start of the body."""
    error = answer.get("error") if isinstance(answer, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return " ".join(error["message"].split())[:300].rstrip(".")
    return " ".join(text.split())[:200] or "no explanation"
