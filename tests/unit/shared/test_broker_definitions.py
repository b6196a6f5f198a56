"""The compose file's RabbitMQ definitions carry exactly the broker users and permissions of
deploy/broker-permissions.tsv, each logging in with its name as password."""

from __future__ import annotations

import base64
import json

from scripts.gen_broker_definitions import DEFINITIONS, PERMISSIONS, password_hash, permission_rows, render


def test_definitions_file_is_generated_from_the_permissions_table() -> None:
    """deploy/rabbitmq/definitions.json is what scripts/gen_broker_definitions.py makes of the table
    today (regenerate it after changing the table)."""
    assert DEFINITIONS.read_text(encoding="utf-8") == render(PERMISSIONS.read_text(encoding="utf-8"))


def test_every_publisher_has_a_user_whose_password_is_its_name() -> None:
    """auth, sync, notifier and platform each get calsync-<publisher> with the table's permissions and
    a hash RabbitMQ accepts for the password equal to the name."""
    data = json.loads(DEFINITIONS.read_text(encoding="utf-8"))
    users = {user["name"]: user for user in data["users"]}
    rows = permission_rows(PERMISSIONS.read_text(encoding="utf-8"))
    assert sorted(row[0] for row in rows) == ["auth", "notifier", "platform", "sync"]
    for publisher, configure, write, read in rows:
        name = f"calsync-{publisher}"
        salt = base64.b64decode(users[name]["password_hash"])[:4]
        assert users[name]["password_hash"] == password_hash(name, salt)
        assert users[name]["tags"] == []  # never 'impersonator': user_id must stay checked
        [granted] = [p for p in data["permissions"] if p["user"] == name]
        assert (granted["configure"], granted["write"], granted["read"]) == (configure, write, read)
