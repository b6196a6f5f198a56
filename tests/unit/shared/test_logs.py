"""The log redaction step: no token, code, secret or signed link survives into a log line."""

from __future__ import annotations

import io
import json
import logging
from typing import Any

import pytest
import structlog

from shared.logs import configure_logging, scrub

ACCESS = "ya29.a0AfH6SMBx-secret_access"
REFRESH = "1//0gLxR-secret-refresh"


def test_secret_keys_and_values_are_redacted() -> None:
    """Secrets are removed by key name and by their recognisable shape inside any string."""
    event = {
        "refresh_token": REFRESH,
        "client_secret": "shh",
        "note": f"Authorization: Bearer {ACCESS}",
        "url": "https://x/cb?code=4/0AX4XfWh-code&state=abc123&sig=deadbeef",
        "dsn": "postgresql://calsync:pa55word@db:5432/calsync",
        "nested": [{"access_token": ACCESS}],
        "grant_state": "disconnected",
    }
    out = json.dumps(scrub(event))
    for secret in (ACCESS, REFRESH, "shh", "4/0AX4XfWh-code", "abc123", "deadbeef", "pa55word"):
        assert secret not in out
    assert "disconnected" in out


def log_failed_refresh(log_format: str, **fields: str) -> tuple[Any, io.StringIO]:
    """Log, in ``log_format``, an exception whose local variable and message hold the refresh token,
    then an aiohttp access line with an OAuth code; returns the logger and its output buffer."""
    stream = io.StringIO()
    configure_logging("INFO", log_format=log_format, stream=stream)
    log = structlog.get_logger("test")

    def refresh(refresh_token: str) -> None:
        raise ValueError(f"refresh failed for token={refresh_token}")

    try:
        refresh(REFRESH)
    except ValueError:
        log.exception("refresh_failed", token=REFRESH, **fields)
    logging.getLogger("aiohttp.access").info("GET /oauth/callback?code=4/abc&state=s1 200")
    return log, stream


def test_configured_logging_redacts_and_drops_traceback_locals() -> None:
    """A logged exception with a token in a local variable and in its message leaks neither."""
    _, stream = log_failed_refresh("json")
    output = stream.getvalue()
    assert REFRESH not in output and "4/abc" not in output
    lines = [json.loads(line) for line in output.splitlines()]
    assert lines[0]["event"] == "refresh_failed" and "exception" in lines[0]
    frames = lines[0]["exception"][0]["frames"]
    assert frames and all("locals" not in frame for frame in frames)


def test_console_format_is_key_value_and_redacts_too() -> None:
    """With LOG_FORMAT=console a line reads as key=value, without colours off a terminal, and
    tokens in keys, values, library records and tracebacks are removed as in JSON."""
    log, stream = log_failed_refresh("console", grant_state="disconnected")
    log.info("calling_google", note=f"Authorization: Bearer {ACCESS}")
    output = stream.getvalue()
    assert REFRESH not in output and ACCESS not in output and "4/abc" not in output
    assert "grant_state=disconnected" in output and "refresh_failed" in output
    assert "Traceback" in output and "\033[" not in output
    assert not output.lstrip().startswith("{")


def test_unknown_log_format_is_refused() -> None:
    """A misspelt format is a clear error naming the choices, not silently JSON."""
    with pytest.raises(ValueError, match="json, console"):
        configure_logging("INFO", log_format="pretty", stream=io.StringIO())
