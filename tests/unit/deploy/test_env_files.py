"""deploy/env.local and deploy/env.example are valid shell: a shell that sources them gets the
values ``make run`` reads, and every variable ``make run`` sets is documented in env.example."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from devtools.envfile import EnvFileError, documented_names, load_env_file, parse_env

DEPLOY = Path(__file__).resolve().parents[3] / "deploy"


def sourced(path: Path) -> dict[str, str]:
    """The environment of a clean bash after ``set -a; . path`` (fails if sourcing fails)."""
    result = subprocess.run(
        ["/usr/bin/env", "-i", "/bin/bash", "-c", 'set -a; . "$0" || exit 1; /usr/bin/env -0', str(path)],
        capture_output=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr.decode()
    assert not result.stderr, result.stderr.decode()
    pairs = (item.split("=", 1) for item in result.stdout.decode().split("\0") if "=" in item)
    return dict(pairs)


@pytest.mark.parametrize("name", ["env.local", "env.example"])
def test_env_file_can_be_sourced_and_gives_the_values_make_run_reads(name: str) -> None:
    """`bash -c 'set -a; . deploy/<file>'` exits 0 and yields exactly what the launcher parses."""
    parsed = load_env_file(DEPLOY / name)
    shell = sourced(DEPLOY / name)
    assert {key: shell.get(key) for key in parsed} == parsed


def test_mail_from_with_angle_brackets_survives_sourcing() -> None:
    """The sender with a display name and <address> reaches the shell as one value."""
    assert sourced(DEPLOY / "env.local")["MAIL_FROM"] == load_env_file(DEPLOY / "env.local")["MAIL_FROM"]
    assert "<" in load_env_file(DEPLOY / "env.local")["MAIL_FROM"]


def test_every_local_variable_is_documented_in_env_example() -> None:
    """A newcomer finds each variable of env.local explained in env.example."""
    documented = documented_names((DEPLOY / "env.example").read_text(encoding="utf-8"))
    missing = sorted(set(load_env_file(DEPLOY / "env.local")) - documented)
    assert not missing, f"not in deploy/env.example: {missing}"


@pytest.mark.parametrize(
    "line", ["MAIL_FROM=calsync <calsync@localhost>", "A=x y", 'A="open', "1A=x", "just words"]
)
def test_lines_a_shell_would_refuse_are_named(line: str) -> None:
    """An unquoted space or angle bracket, an open quote or a bad name is an error naming the line."""
    with pytest.raises(EnvFileError, match="env:2:"):
        parse_env("# comment\n" + line, source="env")
