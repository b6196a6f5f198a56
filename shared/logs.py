"""structlog logging with context and a redaction step; configured once in each ``__main__``.

Two formats (``LOG_FORMAT``): ``json``, one JSON object a line (the default, for deployments), and
``console``, key=value lines for a terminal, coloured only when the stream is a TTY (or
``FORCE_COLOR`` is set and ``NO_COLOR`` is not). Every log line, in both formats (our own and
stdlib records from aiohttp, aio-pika, asyncpg), passes ``scrub`` after exception rendering and
before the renderer, so tokens, codes, secrets and signed-link signatures never reach the output.
Tracebacks are rendered without frame locals.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from typing import IO, Any

import structlog
from structlog.processors import ExceptionRenderer
from structlog.tracebacks import ExceptionDictTransformer

REDACTED = "[REDACTED]"
LOG_FORMATS = ("json", "console")

SECRET_KEYS = re.compile(
    r"(?i)^(access_token|refresh_token|id_token|token|tokens|client_secret|code|code_verifier|"
    r"password|passwd|secret|authorization|cookie|set-cookie|x-goog-channel-token|sig|signature|"
    r"link|reconnect_url|url_with_token|oauth_state|service_token|api_key|key|keys|smtp_password)$"
)

SECRET_VALUES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"(?i)\bBearer\s+[^\s\"',]+"), "Bearer " + REDACTED),
    (re.compile(r"\b(?:ya29\.|1//|4/)[\w.\-~/+=]+"), REDACTED),
    (re.compile(r"\beyJ[\w-]+\.[\w-]+\.[\w-]*"), REDACTED),  # JWTs (id tokens, security events)
    (
        re.compile(
            r"(?i)\b((?:access_|refresh_|id_|service_)?token|code|code_verifier|client_secret|"
            r"state|sig|signature|password)=[^&\s\"']+"
        ),
        r"\1=" + REDACTED,
    ),
    (re.compile(r"(\w+://[^:/@\s]+):[^@\s]+@"), r"\1:" + REDACTED + "@"),
]


def scrub(value: Any, depth: int = 0) -> Any:
    """Return ``value`` with secret-looking keys and values replaced by ``[REDACTED]``."""
    if depth > 8:
        return value
    if isinstance(value, str):
        for pattern, replacement in SECRET_VALUES:
            value = pattern.sub(replacement, value)
        return value
    if isinstance(value, dict):
        return {
            k: REDACTED
            if isinstance(k, str) and SECRET_KEYS.match(k) and v not in (None, "")
            else scrub(v, depth + 1)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return type(value)(scrub(v, depth + 1) for v in value)
    return value


def _scrub_processor(_logger: Any, _method: str, event_dict: Any) -> Any:
    return scrub(event_dict)


def wants_colors(stream: IO[str]) -> bool:
    """Colours for a terminal: ``NO_COLOR`` turns them off, ``FORCE_COLOR`` on (e.g. behind a pipe
    that ends in a terminal, as under ``make run``); otherwise only when ``stream`` is a TTY."""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def _renderers(log_format: str, stream: IO[str]) -> list[Any]:
    """Exception rendering, redaction and the renderer of ``log_format`` (redaction in both)."""
    if log_format == "json":
        return [
            ExceptionRenderer(ExceptionDictTransformer(show_locals=False)),
            _scrub_processor,
            structlog.processors.JSONRenderer(),
        ]
    if log_format == "console":
        return [
            structlog.processors.format_exc_info,  # a plain traceback: no frame locals
            _scrub_processor,
            structlog.dev.ConsoleRenderer(
                colors=wants_colors(stream), exception_formatter=structlog.dev.plain_traceback
            ),
        ]
    raise ValueError(f"log format must be one of {', '.join(LOG_FORMATS)}, got {log_format!r}")


def configure_logging(
    level: str = "INFO", *, log_format: str = "json", stream: IO[str] | None = None
) -> None:
    """Route structlog and stdlib logging through one formatter (``json`` or ``console``) with redaction."""
    out = stream or sys.stdout
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            *_renderers(log_format, out),
        ],
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("aio_pika", "aiormq"):
        logging.getLogger(noisy).setLevel(max(logging.getLevelName(level), logging.WARNING))
