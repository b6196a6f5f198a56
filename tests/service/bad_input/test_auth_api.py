"""auth's service API (``/api/v1``) against hostile input: control characters and lone surrogates in
user ids, JSON bodies of the wrong shape, too deep, too large or not UTF-8, and missing or garbage
Authorization headers. Each gets a clear 4xx; a good request after each batch still works."""

from __future__ import annotations

import json
import uuid
from urllib.parse import quote

from hypothesis import given
from hypothesis import strategies as st

from tests.service.auth.flow import Auth
from tests.support.raw_http import send

from .strategies import (
    CONTROL,
    JSON_VALUES,
    NOT_TEXT,
    PLAIN,
    badly_encoded,
    huge_text,
    nested,
    not_json,
    with_bad_character,
)
from .support import BATCH, OnLoop, assert_clear_refusal, run_property

USER_ROUTES = st.sampled_from([("POST", "/link"), ("GET", "/connection"), ("DELETE", "/connection")])


async def still_serves(auth: Auth) -> None:
    """A good request after a batch: a new user's link is minted and their status is read."""
    user_id = "u-good-" + uuid.uuid4().hex[:8]
    assert (await auth.link(user_id)).startswith(auth.url)
    assert (await auth.status(user_id))["state"] == "none"


def token_header(auth: Auth) -> list[tuple[bytes, bytes]]:
    return [(b"Authorization", f"Bearer {auth.service_token}".encode())]


@st.composite
def hostile_user_path(draw: st.DrawFn) -> bytes:
    """A user id with a control character, percent-encoded, or raw in the request line (there also a
    lone surrogate's bytes; percent-encoded, those stay literal text for aiohttp)."""
    if draw(st.booleans()):
        return quote(draw(with_bad_character(bad=CONTROL)), safe="").encode()
    return draw(with_bad_character()).encode("utf-8", "surrogatepass").replace(b" ", b"%20")


async def test_hostile_user_ids_are_refused(auth_service: Auth) -> None:
    """A user id holding a NUL, another control character or a lone surrogate gets a clear 400 on
    every per-user route, and the API still serves a good request afterwards."""
    on_loop = OnLoop()

    @BATCH
    @given(user=hostile_user_path(), route=USER_ROUTES)
    def refused(user: bytes, route: tuple[str, str]) -> None:
        method, suffix = route
        target = b"/api/v1/users/" + user + suffix.encode()
        body = b'{"locale": "en"}' if method == "POST" else b""
        answer = on_loop(send(auth_service.url, method, target, token_header(auth_service), body))
        assert_clear_refusal(answer.status, answer.content_type, answer.body)

    await run_property(refused)
    await still_serves(auth_service)


@st.composite
def wrong_link_fields(draw: st.DrawFn) -> bytes:
    """A JSON object whose locale or ttl_seconds is of the wrong type, out of range or unstorable."""
    fields: dict[str, object] = {"locale": "en"}
    which = draw(st.sampled_from(["locale", "ttl_seconds", "both"]))
    if which in ("locale", "both"):
        fields["locale"] = draw(
            NOT_TEXT | PLAIN.filter(lambda text: text not in ("de", "en")) | with_bad_character("en")
        )
    if which in ("ttl_seconds", "both"):
        fields["ttl_seconds"] = draw(
            st.booleans()
            | st.integers(max_value=59)
            | st.integers(min_value=10**7)
            | st.floats(allow_nan=False)
            | PLAIN
            | st.lists(st.integers(), max_size=2)
        )
    return json.dumps(fields).encode("utf-8", "surrogatepass")


LINK_BODIES = st.one_of(
    not_json().filter(bool),  # no body at all is a request for the defaults
    JSON_VALUES.filter(lambda v: not isinstance(v, dict)).map(lambda v: json.dumps(v).encode()),
    wrong_link_fields(),
    nested(33).map(lambda text: ('{"locale": "en", "x": ' + text + "}").encode()),
    nested(10_000, 200_000).map(str.encode),
    huge_text(64 * 1024).map(lambda text: json.dumps({"locale": "en", "x": text}).encode()),
    huge_text(1024 * 1024).map(lambda text: json.dumps({"locale": text}).encode()),
    badly_encoded({"locale": "xx"}),
)
CONTENT_TYPES = st.sampled_from(
    [b"application/json", b"application/json; charset=latin-1", b"text/plain", b"multipart/form-data", b""]
)


async def test_hostile_link_bodies_are_refused(auth_service: Auth) -> None:
    """A link request whose body is not JSON, not an object, has fields of the wrong type, is nested
    too deep, too large or not UTF-8 gets a clear 400, and the API still serves a good request."""
    on_loop = OnLoop()

    @BATCH
    @given(body=LINK_BODIES, content_type=CONTENT_TYPES)
    def refused(body: bytes, content_type: bytes) -> None:
        headers = token_header(auth_service)
        if content_type:
            headers.append((b"Content-Type", content_type))
        target = f"/api/v1/users/u-{uuid.uuid4().hex[:8]}/link".encode()
        answer = on_loop(send(auth_service.url, "POST", target, headers, body))
        assert_clear_refusal(answer.status, answer.content_type, answer.body)

    await run_property(refused)
    await still_serves(auth_service)


@st.composite
def garbage_authorization(draw: st.DrawFn, token: str) -> list[tuple[bytes, bytes]]:
    """Authorization headers that do not carry the service token (none, garbage, near misses)."""
    value = st.one_of(
        st.binary(max_size=80).map(lambda raw: raw.replace(b"\r", b"").replace(b"\n", b"")),
        PLAIN.map(lambda text: b"Bearer " + text.encode()),
        st.sampled_from(
            [b"Bearer", b"Bearer ", b"bearer  ", b"Basic Z3Vlc3Q6Z3Vlc3Q=", b"Token " + token.encode()]
        ),
        st.sampled_from([b"\xff", b"\xc3", b"\x00", b"\x7f"]).map(
            lambda bad: b"Bearer " + token.encode() + bad
        ),
        st.sampled_from([b"Bearer " + token[:-1].encode(), b"Bearer " + token.upper().encode()]),
        st.integers(9000, 70_000).map(lambda size: b"Bearer " + b"a" * size),
    )
    return [(b"Authorization", item) for item in draw(st.lists(value, max_size=2))]


async def test_garbage_authorization_is_refused(auth_service: Auth) -> None:
    """A request without the service token, or with garbage, invalid UTF-8, a near miss or a huge
    value in Authorization, gets a clear 401 (or 400 for an oversized header), and a good request
    still works."""
    on_loop = OnLoop()
    token = auth_service.service_token

    @BATCH
    @given(headers=garbage_authorization(token), route=USER_ROUTES)
    def refused(headers: list[tuple[bytes, bytes]], route: tuple[str, str]) -> None:
        method, suffix = route
        target = f"/api/v1/users/u-{uuid.uuid4().hex[:8]}{suffix}".encode()
        answer = on_loop(send(auth_service.url, method, target, headers, b'{"locale": "en"}'))
        assert_clear_refusal(answer.status, answer.content_type, answer.body)
        assert answer.status in (400, 401, 431), answer

    await run_property(refused)
    await still_serves(auth_service)
