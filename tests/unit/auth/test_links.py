"""Signed settings links: purpose-bound, expiring, tamper-evident."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.auth.adapters import links

SECRET = b"s" * 32
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_a_genuine_link_carries_user_and_locale() -> None:
    """A minted link verifies and says whose settings it opens and in which language."""
    token = links.mint(SECRET, links.SETTINGS, user_id="u-1", locale="de", expires_at=NOW + timedelta(days=7))
    claims = links.verify(SECRET, links.SETTINGS, token, now=NOW)
    assert (claims.user_id, claims.locale, claims.purpose) == ("u-1", "de", "settings")
    assert claims.expires_at == NOW + timedelta(days=7)


def test_a_link_names_the_platform_account_it_acts_for() -> None:
    """A link minted with the platform's display name names the account as 'Name (user id)'; without
    one, by its user id."""
    expires_at = NOW + timedelta(hours=48)
    named = links.mint(
        SECRET, links.SETTINGS, user_id="u-1", locale="en", expires_at=expires_at, display_name="Ada"
    )
    plain = links.mint(SECRET, links.SETTINGS, user_id="u-1", locale="en", expires_at=expires_at)
    assert links.verify(SECRET, links.SETTINGS, named, now=NOW).account == "Ada (u-1)"
    assert links.verify(SECRET, links.SETTINGS, plain, now=NOW).account == "u-1"


def test_expired_link_is_told_apart_from_a_forged_one() -> None:
    """Past its expiry a genuine link raises LinkExpired, so the page can say 'expired', not 'invalid'."""
    token = links.mint(SECRET, links.SETTINGS, user_id="u-1", locale="en", expires_at=NOW)
    with pytest.raises(links.LinkExpired):
        links.verify(SECRET, links.SETTINGS, token, now=NOW)


@pytest.mark.parametrize("change", ["other_secret", "other_purpose", "payload", "signature", "empty"])
def test_forged_links_are_refused(change: str) -> None:
    """Another secret, another purpose, or any edit to the token is refused as invalid."""
    token = links.mint(
        SECRET, links.SETTINGS, user_id="u-1", locale="en", expires_at=NOW + timedelta(hours=1)
    )
    payload, _, signature = token.partition(".")
    secret, purpose = SECRET, links.SETTINGS
    if change == "other_secret":
        secret = b"t" * 32
    elif change == "payload":
        token = payload[:-2] + "AA." + signature
    elif change == "signature":
        token = payload + "." + signature[::-1]
    elif change == "empty":
        token = ""
    with pytest.raises(links.LinkInvalid):
        if change == "other_purpose":
            links.verify(SECRET, links.SESSION, token, now=NOW)
        else:
            links.verify(secret, purpose, token, now=NOW)


def test_only_known_locales_are_minted() -> None:
    """A link for a language the pages do not speak is not minted."""
    with pytest.raises(ValueError, match="locale"):
        links.mint(SECRET, links.SETTINGS, user_id="u", locale="fr", expires_at=NOW)
