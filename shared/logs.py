"""structlog JSON logging with context and a redaction step; configured once in each ``__main__``.

Every log line (our own and stdlib records from aiohttp, aio-pika, asyncpg) passes ``scrub`` after
exception rendering and before the JSON renderer, so tokens, codes, secrets and signed-link
signatures never reach the output. Tracebacks are rendered without frame locals.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import IO, Any

import structlog
from structlog.processors import ExceptionRenderer
from structlog.tracebacks import ExceptionDictTransformer

REDACTED = "[REDACTED]"

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


def configure_logging(level: str = "INFO", *, as_json: bool = True, stream: IO[str] | None = None) -> None:
    """Route structlog and stdlib logging through one JSON formatter with redaction."""
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
            ExceptionRenderer(ExceptionDictTransformer(show_locals=False)),
            _scrub_processor,
            structlog.processors.JSONRenderer() if as_json else structlog.dev.ConsoleRenderer(colors=False),
        ],
    )
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("aio_pika", "aiormq"):
        logging.getLogger(noisy).setLevel(max(logging.getLevelName(level), logging.WARNING))
