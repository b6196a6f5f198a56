"""A local mail catcher: a real SMTP server (aiosmtpd) that keeps every message, plus an HTML index.

Run it for ``make run`` with ``python -m devtools.mailcatcher --smtp-port 1025 --http-port 8025``
and open http://127.0.0.1:8025/ to read what the notifier sent (``GET /api/messages``: the same mail
as JSON, oldest first, with each text part, for scripts such as ``make demo``). Tests use ``MailCatcher`` directly:
``start()``/``stop()``, ``messages`` (parsed ``EmailMessage`` objects), ``wait_for(predicate, timeout)``
and fault injection (``fail_next(count, code)`` answers the next messages with e.g. 451 or 550;
``before_reply`` is awaited with each accepted message before its 250 reply goes out).
For TLS and login tests it can offer STARTTLS or speak implicit TLS (``tls`` with ``ssl_context``)
and require a login (``logins``: user name -> password).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import email
import email.policy
import html
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiohttp import web
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

REPLIES = {
    421: "421 4.3.2 Service not available, try again later",
    450: "450 4.2.1 Mailbox busy, try again later",
    451: "451 4.3.0 Local error in processing, try again later",
    452: "452 4.3.1 Insufficient storage, try again later",
    550: "550 5.1.1 Mailbox unavailable",
    552: "552 5.3.4 Message too big",
    554: "554 5.7.1 Message rejected",
}


@dataclass
class Received:
    """One accepted message with its SMTP envelope; ``received_at`` is ``time.perf_counter()``.
    ``encrypted``: it came over TLS; ``login``: the user name the client logged in with."""

    message: EmailMessage
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    received_at: float = 0.0
    encrypted: bool = False
    login: str | None = None


@dataclass
class _Handler:
    catcher: MailCatcher

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        encrypted = server.transport is not None and server.transport.get_extra_info("ssl_object") is not None
        login = session.auth_data if isinstance(session.auth_data, str) else None
        return await self.catcher._accept(envelope, encrypted=encrypted, login=login)


@dataclass
class MailCatcher:
    """An in-process SMTP server on ``host``/``smtp_port`` (0 = a free port) that stores each message.

    ``tls``: ``none``, ``starttls`` (offered after EHLO) or ``tls`` (implicit TLS from the first byte),
    both with the certificate in ``ssl_context``. With ``logins`` set, mail is accepted only after AUTH.
    """

    host: str = "127.0.0.1"
    smtp_port: int = 0
    tls: str = "none"
    ssl_context: ssl.SSLContext | None = None
    logins: dict[str, str] | None = None
    before_reply: Callable[[Received], Awaitable[None]] | None = None
    received: list[Received] = field(default_factory=list)
    rejected: list[tuple[int, list[str]]] = field(default_factory=list)
    connections: int = 0  # SMTP connections accepted so far
    _faults: list[int] = field(default_factory=list)
    _server: asyncio.Server | None = None
    _arrived: asyncio.Condition | None = None

    @property
    def messages(self) -> list[EmailMessage]:
        return [r.message for r in self.received]

    @property
    def port(self) -> int:
        return self.smtp_port

    async def start(self) -> None:
        assert self.tls == "none" or self.ssl_context is not None, "TLS needs an ssl_context"
        loop = asyncio.get_running_loop()
        self._arrived = asyncio.Condition()
        self._server = await loop.create_server(
            self._protocol,
            self.host,
            self.smtp_port,
            ssl=self.ssl_context if self.tls == "tls" else None,
        )
        self.smtp_port = self._server.sockets[0].getsockname()[1]

    def _protocol(self) -> SMTP:
        self.connections += 1
        return SMTP(
            _Handler(self),
            hostname="mailcatcher.local",
            ident="calsync mail catcher",
            tls_context=self.ssl_context if self.tls == "starttls" else None,
            authenticator=self._authenticate if self.logins is not None else None,
            # AUTH only over TLS; an implicit TLS connection is encrypted before aiosmtpd sees it.
            auth_require_tls=self.tls != "tls",
        )

    def _authenticate(
        self,
        _server: SMTP,
        _session: Session,
        _envelope: Envelope,
        _mechanism: str,
        auth_data: Any,
    ) -> AuthResult:
        """aiosmtpd's authenticator callback (called positionally); only the credentials matter."""
        if isinstance(auth_data, LoginPassword) and self.logins is not None:
            login, password = auth_data.login.decode(), auth_data.password.decode()
            if self.logins.get(login) == password:
                return AuthResult(success=True, auth_data=login)
        return AuthResult(success=False, handled=False)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> MailCatcher:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def fail_next(self, count: int = 1, code: int = 451) -> None:
        """Answer the DATA of the next ``count`` messages with ``code`` (4xx: temporary, 5xx: permanent)."""
        self._faults.extend([code] * count)

    def clear(self) -> None:
        self.received.clear()
        self.rejected.clear()

    async def _accept(self, envelope: Envelope, *, encrypted: bool = False, login: str | None = None) -> str:
        rcpt_tos = [str(r) for r in envelope.rcpt_tos]
        if self.logins is not None and login is None:
            return "530 5.7.0 Authentication required"
        if self._faults:
            code = self._faults.pop(0)
            self.rejected.append((code, rcpt_tos))
            await self._notify()
            return REPLIES.get(code, f"{code} Rejected by the mail catcher")
        raw = envelope.original_content or envelope.content or b""
        raw = raw if isinstance(raw, bytes) else raw.encode()
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        received = Received(
            parsed, str(envelope.mail_from), rcpt_tos, raw, time.perf_counter(), encrypted, login
        )
        self.received.append(received)
        await self._notify()
        if self.before_reply is not None:
            await self.before_reply(received)
        return "250 2.0.0 Message accepted for delivery"

    async def _notify(self) -> None:
        if self._arrived is not None:
            async with self._arrived:
                self._arrived.notify_all()

    async def wait_for(
        self, predicate: Callable[[EmailMessage], bool] = lambda _m: True, timeout: float = 10.0
    ) -> EmailMessage:
        """The first stored message matching ``predicate``, waiting up to ``timeout`` seconds for it."""
        assert self._arrived is not None, "MailCatcher.start() was not called"
        async with asyncio.timeout(timeout), self._arrived:
            while True:
                for message in self.messages:
                    if predicate(message):
                        return message
                await self._arrived.wait()

    async def wait_for_rejections(self, count: int, timeout: float = 10.0) -> None:
        """Wait until ``count`` messages have been answered with an injected fault."""
        assert self._arrived is not None
        async with asyncio.timeout(timeout), self._arrived:
            await self._arrived.wait_for(lambda: len(self.rejected) >= count)


# --------------------------------------------------------------------------- the HTML index


def web_app(catcher: MailCatcher) -> web.Application:
    """Pages to read caught mail: an index, each message's HTML and text parts, and the raw source."""
    app = web.Application()

    async def index(_request: web.Request) -> web.Response:
        return await _index(catcher)

    async def view(request: web.Request) -> web.Response:
        return await _view(catcher, request, request.match_info.get("part") or "html")

    async def api_messages(_request: web.Request) -> web.Response:
        return web.json_response([_summary(n, r) for n, r in enumerate(catcher.received)])

    app.router.add_get("/", index)
    app.router.add_get("/api/messages", api_messages)
    app.router.add_get("/messages/{n:\\d+}", view)
    app.router.add_get("/messages/{n:\\d+}/{part:(plain|raw)}", view)
    return app


def _summary(n: int, received: Received) -> dict[str, Any]:
    """One caught message for the JSON view: envelope, subject and its text part."""
    text = received.message.get_body(preferencelist=("plain",))
    return {
        "n": n,
        "to": received.rcpt_tos,
        "from": received.mail_from,
        "subject": str(received.message["Subject"] or ""),
        "text": str(text.get_content()) if text is not None else "",
    }


def _e(value: Any) -> str:
    return html.escape(str(value or ""))


async def _index(catcher: MailCatcher) -> web.Response:
    rows = "".join(
        f"<tr><td>{n}</td><td>{_e(r.message['Date'])}</td><td>{_e(', '.join(r.rcpt_tos))}</td>"
        f'<td><a href="/messages/{n}">{_e(r.message["Subject"])}</a></td>'
        f'<td><a href="/messages/{n}/plain">text</a> · <a href="/messages/{n}/raw">source</a></td></tr>'
        for n, r in reversed(list(enumerate(catcher.received)))
    )
    body = (
        "<!doctype html><html><head><meta charset='utf-8'><title>Mail catcher</title>"
        "<style>body{font-family:sans-serif;margin:2rem}td,th{padding:.3rem .8rem;text-align:left}"
        "tr:nth-child(even){background:#f3f4f6}p{max-width:44rem;color:#374151}</style></head><body>"
        "<h1>Mail catcher</h1><p>A local SMTP server that keeps every email instead of delivering it: "
        "what the notifier sends in a local run lands here. Open a subject to see the email as the "
        "recipient would, or its text part or source.</p>"
        f"<h2>Caught mail ({len(catcher.received)})</h2><table><tr><th>#</th><th>Date</th><th>To</th>"
        f"<th>Subject</th><th></th></tr>{rows}</table></body></html>"
    )
    return web.Response(text=body, content_type="text/html")


async def _view(catcher: MailCatcher, request: web.Request, part: str) -> web.Response:
    n = int(request.match_info["n"])
    if n >= len(catcher.received):
        raise web.HTTPNotFound(text="no such message")
    received = catcher.received[n]
    if part == "raw":
        return web.Response(body=received.raw, content_type="text/plain", charset="utf-8")
    body = received.message.get_body(preferencelist=(part,))
    if body is None:
        raise web.HTTPNotFound(text=f"message has no {part} part")
    content = body.get_content()
    if part == "html":
        # Caught mail is shown as the recipient would see it, but must not run scripts here.
        headers = {"Content-Security-Policy": "script-src 'none'"}
        return web.Response(text=content, content_type="text/html", headers=headers)
    return web.Response(text=content, content_type="text/plain")


async def _serve(smtp_port: int, http_port: int, host: str) -> None:
    catcher = MailCatcher(host=host, smtp_port=smtp_port)
    await catcher.start()
    runner = web.AppRunner(web_app(catcher), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, http_port).start()
    print(f"mail catcher: SMTP {host}:{catcher.port}, web http://{host}:{http_port}/", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
        await catcher.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Local SMTP mail catcher with an HTML index")
    parser.add_argument("--smtp-port", type=int, default=1025)
    parser.add_argument("--http-port", type=int, default=8025)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.smtp_port, args.http_port, args.host))


if __name__ == "__main__":
    main()
