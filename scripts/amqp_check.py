#!/usr/bin/env python3
"""Checks that an AMQP 0-9-1 login works: `python3 scripts/amqp_check.py AMQP_URL`.

Used by scripts/ensure-infra.sh before the virtualenv exists, so it speaks the handshake with the
standard library only (protocol header, Start-Ok with PLAIN, Tune-Ok, Open, Close).
Exit codes: 0 login and vhost accepted, 1 broker not reachable, 2 login or vhost refused,
3 anything else (not an AMQP server, handshake cut short).
"""

from __future__ import annotations

import socket
import ssl
import struct
import sys
from urllib.parse import unquote, urlsplit

FRAME_END = b"\xce"


def _shortstr(value: str) -> bytes:
    raw = value.encode()
    return struct.pack("!B", len(raw)) + raw


def _longstr(raw: bytes) -> bytes:
    return struct.pack("!I", len(raw)) + raw


def _method_frame(class_id: int, method_id: int, args: bytes) -> bytes:
    payload = struct.pack("!HH", class_id, method_id) + args
    return struct.pack("!BHI", 1, 0, len(payload)) + payload + FRAME_END


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("connection closed by the broker")
        data += chunk
    return data


def _read_method(sock: socket.socket) -> tuple[int, int, bytes]:
    header = _recv_exact(sock, 7)
    if header.startswith(b"AMQP"):
        raise ProtocolError("broker does not speak AMQP 0-9-1")
    frame_type, _channel, size = struct.unpack("!BHI", header)
    payload = _recv_exact(sock, size + 1)[:-1]
    if frame_type != 1:
        return _read_method(sock)  # heartbeats and other frames: skip
    class_id, method_id = struct.unpack("!HH", payload[:4])
    return class_id, method_id, payload[4:]


class ProtocolError(Exception):
    """The peer answered, but not like an AMQP 0-9-1 broker."""


class Refused(Exception):
    """The broker closed the connection with a reply code (403 login, 530 vhost)."""


def _expect(sock: socket.socket, class_id: int, method_id: int) -> bytes:
    got_class, got_method, args = _read_method(sock)
    if (got_class, got_method) == (10, 50):  # connection.close
        code = struct.unpack("!H", args[:2])[0]
        text = args[3 : 3 + args[2]].decode(errors="replace")
        raise Refused(f"{code} {text}")
    if (got_class, got_method) != (class_id, method_id):
        raise ProtocolError(f"unexpected method {got_class}.{got_method}")
    return args


def check(url: str, timeout: float) -> None:
    """Performs the handshake and a clean close; raises on any failure."""
    parts = urlsplit(url)
    secure = parts.scheme == "amqps"
    host = parts.hostname or "127.0.0.1"
    port = parts.port or (5671 if secure else 5672)
    user = unquote(parts.username or "guest")
    password = unquote(parts.password or "guest")
    vhost = unquote(parts.path[1:]) if len(parts.path) > 1 else "/"
    sock = socket.create_connection((host, port), timeout=timeout)
    sock.settimeout(max(timeout, 10.0))  # RabbitMQ answers a failed login only after a delay
    if secure:
        sock = ssl.create_default_context().wrap_socket(sock, server_hostname=host)
    try:
        sock.sendall(b"AMQP\x00\x00\x09\x01")
        _expect(sock, 10, 10)  # connection.start
        response = b"\x00" + user.encode() + b"\x00" + password.encode()
        start_ok = b"\x00\x00\x00\x00" + _shortstr("PLAIN") + _longstr(response)
        sock.sendall(_method_frame(10, 11, start_ok + _shortstr("en_US")))
        try:
            tune = _expect(sock, 10, 30)  # connection.tune: the login was accepted
        except ConnectionError as exc:
            raise Refused("403 login refused (connection closed after Start-Ok)") from exc
        channel_max, frame_max, _heartbeat = struct.unpack("!HIH", tune[:8])
        sock.sendall(_method_frame(10, 31, struct.pack("!HIH", channel_max, frame_max, 0)))
        sock.sendall(_method_frame(10, 40, _shortstr(vhost) + _shortstr("") + b"\x00"))
        _expect(sock, 10, 41)  # connection.open-ok: the vhost is usable
        sock.sendall(_method_frame(10, 50, struct.pack("!H", 200) + _shortstr("") + b"\0" * 4))
        _expect(sock, 10, 51)
    finally:
        sock.close()


def main(argv: list[str]) -> int:
    url = argv[1] if len(argv) > 1 else "amqp://guest:guest@127.0.0.1:5672/"
    timeout = float(argv[2]) if len(argv) > 2 else 3.0
    try:
        check(url, timeout)
    except (ConnectionRefusedError, TimeoutError, socket.gaierror) as exc:
        print(f"amqp: not reachable: {exc}", file=sys.stderr)
        return 1
    except Refused as exc:
        print(f"amqp: refused: {exc}", file=sys.stderr)
        return 2
    except (OSError, ProtocolError, struct.error) as exc:
        print(f"amqp: handshake failed: {exc}", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
