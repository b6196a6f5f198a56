"""The CLI's side of the services' HTTP APIs: where each service is (from the environment), the
service token, and a one-line ``CliError`` for everything that can go wrong on the way."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TextIO
from urllib.parse import quote

import aiohttp
from yarl import URL

URL_VARIABLES = {"auth": "AUTH_API_URL", "sync": "SYNC_API_URL", "notifier": "NOTIFIER_API_URL"}
EXAMPLE_URLS = {
    "auth": "http://127.0.0.1:8081",
    "sync": "http://127.0.0.1:8082",
    "notifier": "http://127.0.0.1:8083",
}
TIMEOUT_SECONDS = 10.0


class CliError(Exception):
    """What went wrong, in one line for the operator; the CLI prints it and exits 1."""


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any

    def error(self) -> str:
        """The service's own words for a refusal: ``detail`` or ``error`` of its JSON answer."""
        if isinstance(self.body, dict):
            return str(self.body.get("detail") or self.body.get("error") or self.body)
        return str(self.body)[:200]


def path(template: str, **values: str) -> str:
    """``template`` with each ``{name}`` replaced by its value, escaped as one path segment."""
    return template.format(**{name: quote(value, safe="") for name, value in values.items()})


class Services:
    """The running services, reached with ``Authorization: Bearer $SERVICE_TOKEN``."""

    def __init__(self, env: Mapping[str, str], session: aiohttp.ClientSession, progress: TextIO) -> None:
        self.env = env
        self.progress = progress  # where long operations say how far they are (stderr)
        self._session = session

    @property
    def http(self) -> aiohttp.ClientSession:
        """The CLI's HTTP session, for the calls that go to Google rather than to a service."""
        return self._session

    def base_url(self, service: str) -> str:
        name = URL_VARIABLES[service]
        value = self.env.get(name, "").strip().rstrip("/")
        if not value:
            raise CliError(f"{name} is not set: the URL {service} serves on (e.g. {EXAMPLE_URLS[service]})")
        if not value.startswith(("http://", "https://")):
            raise CliError(f"{name} must be an http:// or https:// URL, not {value!r}")
        return value

    def _token(self) -> str:
        token = self.env.get("SERVICE_TOKEN", "").strip()
        if not token:
            raise CliError("SERVICE_TOKEN is not set: the services' shared API token")
        return token

    async def call(
        self,
        service: str,
        method: str,
        api_path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        timeout: float = TIMEOUT_SECONDS,
    ) -> Reply:
        """One request to ``service``; a 401, no answer (within ``timeout`` seconds) or an answer that is
        not JSON is a ``CliError``."""
        base = self.base_url(service)
        headers = {"Authorization": f"Bearer {self._token()}"}
        url = URL(base + api_path, encoded=True)
        try:
            async with self._session.request(
                method,
                url,
                params=params,
                json=body,
                headers=headers,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=timeout),
            ) as response:
                text = await response.text()
                status = response.status
        except aiohttp.ClientConnectionError as exc:
            raise CliError(f"{service} is unreachable at {base}: {one_line(exc)}") from None
        except TimeoutError:
            raise CliError(f"{service} did not answer within {timeout:g} s at {base}") from None
        if status == 401:
            raise CliError(f"{service} refused the service token (401): check SERVICE_TOKEN")
        return Reply(status, _json_or_text(text, service, status))


def one_line(exc: Exception) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _json_or_text(text: str, service: str, status: int) -> Any:
    if status == 204 or not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        if status < 300:
            raise CliError(f"{service} answered {status} with something that is not JSON") from None
        return text


def session(timeout: float = TIMEOUT_SECONDS) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout))
