"""Forged security event tokens to auth's ``/risc`` (Cross-Account Protection): garbage, malformed
JWTs, ``alg: none`` and HMAC tokens, other keys, unknown ``kid``s, wrong ``aud`` or ``iss``, broken
claims, bodies over the limit and wrapped in other content types. Each gets a clear 400 and is not
recorded; a genuine event after the batch is accepted."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import asyncpg
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import given
from hypothesis import strategies as st

from services.auth.entrypoints.risc_receiver import MAX_SET_BYTES
from tests.service.auth.flow import Auth
from tests.support.raw_http import send

from .strategies import JSON_VALUES, PLAIN, nested
from .support import BATCH, OnLoop, assert_clear_refusal, run_property

CONTENT_TYPES = [b"application/secevent+jwt", b"application/jwt", b"application/json", b"text/plain", b""]


def segment(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(header: Any, claims: Any) -> str:
    return f"{segment(json.dumps(header).encode())}.{segment(json.dumps(claims).encode())}.{segment(b'sig')}"


@st.composite
def wrong_claims(draw: st.DrawFn, claims: dict[str, Any], client_id: str) -> dict[str, Any]:
    """``claims`` broken in a way a receiver must refuse: audience, issuer, jti, events or times."""
    changed = dict(claims)
    name = draw(st.sampled_from(["aud", "iss", "jti", "events", "nbf", "iat"]))
    if draw(st.booleans()) and name not in ("nbf", "iat"):
        del changed[name]
        return changed
    bad: dict[str, st.SearchStrategy[Any]] = {
        "aud": PLAIN.filter(lambda aud: aud != client_id)
        | st.lists(PLAIN.filter(lambda aud: aud != client_id)),
        "iss": st.sampled_from(
            ["https://accounts.google.com", "https://evil.example/", "", "accounts.google.com"]
        ),
        "jti": st.none() | st.integers() | st.lists(PLAIN, max_size=2),
        "events": JSON_VALUES.filter(lambda value: not isinstance(value, dict)),
        "nbf": st.integers(4_000_000_000, 2**40),
        "iat": PLAIN.filter(lambda text: not text.strip().lstrip("-").isdigit()) | st.lists(st.integers()),
    }
    changed[name] = draw(bad[name])
    return changed


def forged_tokens(emulator: Any, claims: dict[str, Any]) -> st.SearchStrategy[str]:
    kid = emulator.signing_kid
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    unknown_kid = PLAIN.filter(lambda text: text != kid)
    return st.one_of(
        PLAIN,
        st.text(st.sampled_from("abcXYZ019-_."), max_size=200),
        st.sampled_from(["", ".", "..", "a.b.c", "e30.e30.", "e30.e30.e30"]),
        st.just(unsigned({"alg": "none", "kid": kid}, claims)),
        st.just(
            jwt.encode(claims, "an-hmac-secret-of-32-bytes-or-more", algorithm="HS256", headers={"kid": kid})
        ),
        st.just(emulator.sign_set(claims, key=other_key)),
        unknown_kid.map(lambda other: emulator.sign_set(claims, key=other_key, kid=other)),
        st.builds(unsigned, JSON_VALUES, JSON_VALUES),
        nested(40, 4000).map(lambda deep: segment(deep.encode()) + ".e30.e30"),
        wrong_claims(claims, emulator.client_id).map(emulator.sign_set),
        st.just(emulator.sign_set(claims)[:-3] + "AAA"),
    )


@st.composite
def forged_bodies(
    draw: st.DrawFn, emulator: Any, claims: dict[str, Any], tokens: st.SearchStrategy[str]
) -> tuple[bytes, bytes]:
    """(content type, body): a forged token, raw or wrapped, or an otherwise hostile body."""
    token = draw(tokens).encode("utf-8", "surrogatepass")
    genuine = emulator.sign_set({**claims, "jti": uuid.uuid4().hex}).encode()
    body = draw(
        st.sampled_from(
            [
                token,
                json.dumps({"token": genuine.decode()}).encode(),
                b"token=" + genuine,
                genuine + b"\xff",
                b"\x00" + genuine,
                genuine + b" " * (MAX_SET_BYTES + 1),
                token * (MAX_SET_BYTES // max(len(token), 1) + 2),
            ]
        )
    )
    return draw(st.sampled_from(CONTENT_TYPES)), body


async def recorded(db: asyncpg.Pool) -> int:
    return int(await db.fetchval("SELECT count(*) FROM auth.security_events"))


async def test_forged_security_events_are_refused_and_a_genuine_one_is_accepted(
    auth_service: Auth, module_emulator: Any, module_db: asyncpg.Pool
) -> None:
    """Each generated forged or hostile /risc body gets a clear 400 and nothing is recorded; the
    genuine event sent afterwards is accepted."""
    on_loop = OnLoop()
    claims = module_emulator.build_set("verification", {"state": "forged"})
    before = await recorded(module_db)

    @BATCH
    @given(posted=forged_bodies(module_emulator, claims, forged_tokens(module_emulator, claims)))
    def refused(posted: tuple[bytes, bytes]) -> None:
        content_type, body = posted
        headers = [(b"Content-Type", content_type)] if content_type else []
        answer = on_loop(send(auth_service.url, "POST", b"/risc", headers, body))
        # 503 is the answer (so Google retries) for a key id outside Google's current keys while a
        # key refetch is not yet allowed; anything else that is forged is a 400.
        assert_clear_refusal(answer.status, answer.content_type, answer.body, allowed=(503,))
        assert answer.status in (400, 503), answer

    await run_property(refused)
    assert await recorded(module_db) == before
    status = await module_emulator.send_security_event(
        auth_service.url + "/risc", "verification", {"state": "ok"}
    )
    assert status == 202
