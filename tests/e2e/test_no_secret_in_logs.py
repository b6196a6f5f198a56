"""No token, code, secret or signed link reaches a log line, across the request and message paths.

Real tokens are driven through every path that carries them: the OAuth round trip (code, state,
PKCE, link token in query strings), the token request/reply over AMQP (access tokens in a message),
a forced refresh (refresh token sent to Google), a revoked grant turned into an email (the notifier
minting a link with the service token), a reconnect, and a signed security event posted to /risc.
Then the whole log output of auth, the notifier and the libraries is searched for each secret.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import asyncpg

from shared import messages as m
from shared.amqp import Broker
from shared.config import CommonConfig, GoogleConfig
from shared.rpc import RpcClient
from tests.e2e.support import EMAIL, chain, plain
from tests.service.auth.flow import (
    LINK_SECRET,
    TEST_KEYS,
    browser,
    consent,
    get,
    open_settings,
    query_of,
    start_connect,
)
from tests.support.helpers import captured_logs


async def test_secrets_driven_through_every_path_never_reach_the_logs(
    common_config: Callable[..., CommonConfig],
    google_config: GoogleConfig,
    emulator: Any,
    broker: Broker,
    clean_db: asyncpg.Pool,
    service_token: str,
) -> None:
    """After connect, token requests, a forced refresh, a revocation email, a reconnect and a
    security event, none of the secrets involved appears anywhere in the log output."""
    secrets: set[str] = {service_token, google_config.client_secret, LINK_SECRET.decode(errors="ignore")}
    secrets |= {base64.b64encode(key).decode() for _kid, key in TEST_KEYS}
    with captured_logs() as logs:
        async with chain(common_config, google_config, emulator, broker, clean_db) as c:
            rpc = RpcClient(broker)
            await rpc.start()
            for force in (False, True):
                reply = await rpc.call(m.TokenRequested(user_id=c.user_id, force_refresh=force), timeout=10)
                assert isinstance(reply, m.TokenReply) and reply.access_token
                secrets.add(reply.access_token)
            secrets |= emulator.issued_secrets()

            emulator.revoke_user(EMAIL)
            c.clock.advance(timedelta(days=3))
            alert = await c.mail.wait_for(timeout=15)
            link = re.search(r"(https?://\S+/settings\?token=\S+)", plain(alert)).group(1)  # type: ignore[union-attr]
            secrets |= {link, query_of(link)["token"]}
            # Decoded parts and header values: in the raw, quoted-printable message a line break can
            # fall right after "sig=3D" and cut the signature short.
            readable = [str(value) for value in alert.values()] + [
                str(part.get_content()) for part in alert.walk() if part.get_content_maintype() == "text"
            ]
            signatures = set(re.findall(r"sig=([\w-]+)", " ".join(readable)))
            assert signatures and all(len(sig) >= 16 for sig in signatures), signatures
            secrets |= signatures

            async with browser() as http:
                settings = await open_settings(c.auth, http, link)
                callback = await consent(http, await start_connect(c.auth, http, settings))
                secrets |= {query_of(callback)["code"], query_of(callback)["state"]}
                assert (await get(http, callback)).status == 200

            subject = emulator.subject_iss_sub(emulator.user(EMAIL).sub)
            claims = emulator.build_set("account-disabled", subject, reason="hijacking")
            token = emulator.sign_set(claims)
            secrets.add(token)
            assert await emulator.post_set(c.auth.url + "/risc", token) == 202
            secrets |= emulator.issued_secrets()
    output = logs.getvalue()
    assert "grant_disconnected" in output and "http_request" in output and "message_processed" in output
    leaked = sorted(s for s in secrets if s and s in output)
    assert not leaked, f"{len(leaked)} secret(s) found in the logs"
