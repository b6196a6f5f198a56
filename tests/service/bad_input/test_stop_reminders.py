"""The notifier's public stop-reminders link (``/reminders/stop``) against hostile input: forged or
mismatched signatures, ids and languages with control characters, script injection, huge values,
duplicated parameters and bodies of any kind. Each gets a clear 400 page; a genuine link still
works after the batch."""

from __future__ import annotations

import uuid
from urllib.parse import urlencode

from hypothesis import given
from hypothesis import strategies as st

from services.notifier.domain.stop_links import stop_signature
from tests.service.notifier.support import Notifier
from tests.support.raw_http import send

from .strategies import PLAIN, nested, with_bad_character
from .support import BATCH, OnLoop, assert_clear_refusal, run_property

INJECTION = st.sampled_from(
    ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "{{7*7}}", "%s%n"]
)
EPISODE = st.uuids().map(str)


@st.composite
def forged_query(draw: st.DrawFn, secret: str) -> list[tuple[str, str]]:
    """Stop-link parameters whose signature never matches their episode."""
    episode = draw(
        EPISODE | PLAIN | with_bad_character() | INJECTION | st.integers(1000, 6000).map("e".__mul__)
    )
    other = draw(EPISODE.filter(lambda value: value != episode))
    signature = draw(
        st.sampled_from([stop_signature(secret, other), "", "0" * 64])
        | PLAIN
        | with_bad_character(stop_signature(secret, other))
    )
    pairs = [("e", episode), ("sig", signature)]
    pairs += draw(st.lists(st.tuples(st.sampled_from(["e", "sig", "l", "x"]), PLAIN | INJECTION), max_size=4))
    if draw(st.booleans()):
        pairs.insert(0, ("l", draw(PLAIN | INJECTION | with_bad_character("de"))))
    return draw(st.permutations(pairs))


BODIES = st.sampled_from([b"", b"List-Unsubscribe=One-Click", b'{"e": 1}', b"\x00\xff" * 10]) | st.builds(
    lambda deep: deep.encode(), nested(40, 20_000)
)


async def genuine_link_works(notifier: Notifier) -> None:
    """A correctly signed link shows its confirmation page and stopping answers 200."""
    episode = str(uuid.uuid4())
    query = urlencode({"e": episode, "sig": stop_signature(notifier.config.link_secret, episode), "l": "de"})
    for method in ("GET", "POST"):
        answer = await send(notifier.url, method, f"/reminders/stop?{query}".encode())
        assert answer.status == 200 and answer.content_type.startswith("text/html"), answer


async def test_forged_stop_links_get_a_clear_400_page(notifier_service: Notifier) -> None:
    """Each generated stop link whose signature does not match gets a 400 page that reflects no
    injected markup, for GET and POST with any body; a genuine link still works afterwards."""
    on_loop = OnLoop()
    secret = notifier_service.config.link_secret

    @BATCH
    @given(query=forged_query(secret), method=st.sampled_from(["GET", "POST"]), body=BODIES)
    def refused(query: list[tuple[str, str]], method: str, body: bytes) -> None:
        target = b"/reminders/stop?" + urlencode(query, errors="surrogatepass").encode()
        headers = [(b"Content-Type", b"application/x-www-form-urlencoded")] if body else []
        answer = on_loop(
            send(notifier_service.url, method, target, headers, body if method == "POST" else b"")
        )
        assert_clear_refusal(answer.status, answer.content_type, answer.body)
        assert "<script>alert" not in answer.body and "<img src=x" not in answer.body

    await run_property(refused)
    await genuine_link_works(notifier_service)
