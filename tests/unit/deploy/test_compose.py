"""deploy/docker-compose.yml parses and every variable it interpolates is either documented in
deploy/env.example or has a default, so `docker compose up` never runs with a silently empty value."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from devtools.envfile import documented_names

DEPLOY = Path(__file__).resolve().parents[3] / "deploy"
# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}, ${NAME?error}; $$ is a literal dollar.
INTERPOLATION = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(:?[-?+][^}]*)?\}|(?<!\$)\$([A-Za-z_]\w*)")


def strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from strings(key)
            yield from strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from strings(item)


def compose() -> dict[str, Any]:
    data = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_compose_file_parses_and_runs_the_three_services_from_one_image() -> None:
    """auth, sync and notifier are built from deploy/Dockerfile and health-checked on the internal port."""
    services = compose()["services"]
    for name, port in (("auth", 9081), ("sync", 9082), ("notifier", 9083)):
        assert services[name]["build"]["dockerfile"] == "deploy/Dockerfile"
        assert services[name]["command"] == [f"services.{name}"]
        assert f"127.0.0.1:{port}/readyz" in " ".join(services[name]["healthcheck"]["test"])


def test_every_interpolated_variable_is_documented_or_has_a_default() -> None:
    """A ${VAR} without a default names a variable that deploy/env.example explains."""
    documented = documented_names((DEPLOY / "env.example").read_text(encoding="utf-8"))
    found = [m for text in strings(compose()) for m in INTERPOLATION.finditer(text)]
    assert found, "the compose file is expected to interpolate settings"
    undefined = sorted(
        {
            (m.group(1) or m.group(3))
            for m in found
            if not (m.group(2) or "").lstrip(":").startswith("-")
            and (m.group(1) or m.group(3)) not in documented
        }
    )
    assert not undefined, f"neither in deploy/env.example nor with a default: {undefined}"
