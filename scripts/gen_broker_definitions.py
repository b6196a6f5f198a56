#!/usr/bin/env python3
"""Writes deploy/rabbitmq/definitions.json from deploy/broker-permissions.tsv: `python3 -m scripts.gen_broker_definitions`.

The compose file's RabbitMQ imports it at boot (deploy/rabbitmq/calsync.conf): the admin user
guest and the per-publisher broker users of docs/security.md with their permissions on vhost "/".
Every password equals the user name, for a laptop only; production creates its users with real
passwords. tests/unit/shared/test_broker_definitions.py checks the file is up to date.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PERMISSIONS = ROOT / "deploy" / "broker-permissions.tsv"
DEFINITIONS = ROOT / "deploy" / "rabbitmq" / "definitions.json"
VHOST = "/"


def password_hash(password: str, salt: bytes) -> str:
    """RabbitMQ's rabbit_password_hashing_sha256: base64(salt + SHA-256(salt + password))."""
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode()


def _user(name: str, tags: list[str]) -> dict[str, object]:
    salt = hashlib.sha256(name.encode()).digest()[:4]  # fixed, so the file only changes with the users
    return {
        "name": name,
        "password_hash": password_hash(name, salt),
        "hashing_algorithm": "rabbit_password_hashing_sha256",
        "tags": tags,
    }


def permission_rows(text: str) -> list[tuple[str, str, str, str]]:
    """(publisher, configure, write, read) for every line of broker-permissions.tsv."""
    rows = []
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            publisher, configure, write, read = line.split("\t")
            rows.append((publisher, configure, write, read))
    return rows


def definitions(text: str) -> dict[str, object]:
    rows = permission_rows(text)
    users = [_user("guest", ["administrator"])] + [_user(f"calsync-{row[0]}", []) for row in rows]
    permissions = [{"user": "guest", "vhost": VHOST, "configure": ".*", "write": ".*", "read": ".*"}]
    permissions += [
        {"user": f"calsync-{publisher}", "vhost": VHOST, "configure": configure, "write": write, "read": read}
        for publisher, configure, write, read in rows
    ]
    return {"users": users, "vhosts": [{"name": VHOST}], "permissions": permissions}


def render(text: str) -> str:
    return json.dumps(definitions(text), indent=2) + "\n"


def main() -> int:
    DEFINITIONS.write_text(render(PERMISSIONS.read_text(encoding="utf-8")), encoding="utf-8")
    print(f"wrote {DEFINITIONS.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
