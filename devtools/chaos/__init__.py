"""Fault injection (``make chaos``, short form in tests/e2e/test_chaos.py): appointment events flow
from the platform through a three-node RabbitMQ cluster, auth, sync and notifier into the Google
emulator while services, broker nodes and PostgreSQL are killed and restarted, Google fails calls
and grants are revoked; then the end state is checked from the outside."""
