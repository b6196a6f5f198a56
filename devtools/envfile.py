"""Reads the KEY=VALUE files in deploy/ (``env.local`` for ``make run``, ``env.example``) the way a
shell that sources them does: ``#`` comments, blank lines, optional ``export``, and values that
are quoted when they hold spaces or angle brackets (``MAIL_FROM="calsync <calsync@localhost>"``)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class EnvFileError(ValueError):
    """A line a shell would not accept as an assignment; the message names the line."""


def parse_env(text: str, *, source: str = "env file") -> dict[str, str]:
    """The assignments in ``text``; a value with an unquoted space or a bad name is an error."""
    values: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        line = line.removeprefix("export ").lstrip()
        name, sep, rest = line.partition("=")
        if not sep or not _NAME.fullmatch(name):
            raise EnvFileError(f"{source}:{number}: expected NAME=value, got {raw!r}")
        try:
            words = _words(rest)
        except ValueError as exc:
            raise EnvFileError(f"{source}:{number}: {name}: {exc}") from None
        if len(words) > 1:
            raise EnvFileError(
                f"{source}:{number}: {name}: quote a value that holds spaces or any of < > | ; & ( )"
            )
        values[name] = words[0] if words else ""
    return values


def _words(text: str) -> list[str]:
    """Shell words of ``text``; an unquoted ``<``, ``>``, ``|``, ``;``, ``&``, ``(``, ``)`` is a word of its own."""
    lexer = shlex.shlex(text, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = "#"
    return list(lexer)


def load_env_file(path: Path) -> dict[str, str]:
    """``parse_env`` of the file at ``path``."""
    return parse_env(path.read_text(encoding="utf-8"), source=str(path))


def documented_names(text: str) -> set[str]:
    """Every NAME that appears as ``NAME=`` or commented out as ``#NAME=`` (env.example's defaults)."""
    return set(re.findall(r"^#?\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=", text, flags=re.MULTILINE))
