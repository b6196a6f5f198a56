"""Token encryption at rest and the token fingerprints used for security events."""

from __future__ import annotations

import base64
import hashlib
import os

import pytest

from services.auth.adapters.crypto import DecryptionError, TokenCipher, key_id, token_hash, token_prefix_hash

OLD = ("k1", os.urandom(32))
NEW = ("k2", os.urandom(32))
TOKEN = "1//0gExampleRefreshTokenValue-abcdefghijklmnopqrstuvwxyz"


def test_round_trip_names_the_key_and_hides_the_token() -> None:
    """A sealed token decrypts back, names its key, and does not contain the token."""
    cipher = TokenCipher([OLD])
    blob = cipher.seal_field("g1", "refresh_token", TOKEN)
    assert blob.startswith(b"k1:") and key_id(blob) == "k1"
    assert TOKEN.encode() not in blob and TOKEN[:16].encode() not in blob
    assert cipher.open_field("g1", "refresh_token", blob) == TOKEN
    assert cipher.seal_field("g1", "refresh_token", TOKEN) != blob  # fresh nonce every time


def test_value_moved_to_another_row_or_column_does_not_decrypt() -> None:
    """A ciphertext copied to another grant or column is refused (the AAD binds it)."""
    cipher = TokenCipher([OLD])
    blob = cipher.seal_field("g1", "refresh_token", TOKEN)
    with pytest.raises(DecryptionError):
        cipher.open_field("g2", "refresh_token", blob)
    with pytest.raises(DecryptionError):
        cipher.open_field("g1", "access_token", blob)


def test_tampered_or_unknown_key_is_refused() -> None:
    """A flipped byte or a key id nobody configured raises DecryptionError, never garbage."""
    cipher = TokenCipher([OLD])
    blob = bytearray(cipher.seal_field("g1", "refresh_token", TOKEN))
    blob[-1] ^= 1
    with pytest.raises(DecryptionError):
        cipher.open_field("g1", "refresh_token", bytes(blob))
    foreign = TokenCipher([NEW]).seal_field("g1", "refresh_token", TOKEN)
    with pytest.raises(DecryptionError):
        cipher.open_field("g1", "refresh_token", foreign)
    with pytest.raises(DecryptionError):
        cipher.decrypt(b"no key id here", aad="x")


def test_newest_key_encrypts_and_older_keys_still_decrypt() -> None:
    """After a new key is put first, old values still open and reseal moves them to the new key."""
    old_blob = TokenCipher([OLD]).seal_field("g1", "refresh_token", TOKEN)
    both = TokenCipher([NEW, OLD])
    assert both.current_kid == "k2"
    assert both.open_field("g1", "refresh_token", old_blob) == TOKEN
    assert not both.is_current(old_blob)
    resealed = both.reseal(old_blob, aad="g1:refresh_token")
    assert key_id(resealed) == "k2" and both.is_current(resealed)
    assert both.reseal(resealed, aad="g1:refresh_token") is resealed
    assert TokenCipher([NEW]).open_field("g1", "refresh_token", resealed) == TOKEN


def test_token_fingerprints_match_googles_identifiers() -> None:
    """The stored hash equals Google's hash_base64_sha512_sha512; the prefix hash covers 16 characters."""
    expected = base64.b64encode(hashlib.sha512(hashlib.sha512(TOKEN.encode()).digest()).digest()).decode()
    assert token_hash(TOKEN) == expected
    assert token_prefix_hash(TOKEN) == token_prefix_hash(TOKEN[:16])
    assert TOKEN[:16] not in token_prefix_hash(TOKEN)
