"""Token encryption at rest and token fingerprints for security events.

Every encrypted value is ``<kid>:`` + 12-byte nonce + AES-GCM ciphertext, so it names the key that
sealed it; the associated data binds it to its row and column (``grant_id:field``), so a value copied
to another row or column fails to decrypt. The newest configured key encrypts, all keys decrypt.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12
SEPARATOR = b":"


class DecryptionError(Exception):
    """A value cannot be decrypted: unknown key id, wrong binding, or tampered data."""


class TokenCipher:
    """AES-GCM with several keys (newest first); the first one encrypts."""

    def __init__(self, keys: Sequence[tuple[str, bytes]]) -> None:
        if not keys:
            raise ValueError("at least one key is required")
        self._keys = {kid: AESGCM(key) for kid, key in keys}
        self.current_kid = keys[0][0]

    def encrypt(self, plaintext: str, *, aad: str) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._keys[self.current_kid].encrypt(nonce, plaintext.encode(), aad.encode())
        return self.current_kid.encode() + SEPARATOR + nonce + sealed

    def decrypt(self, blob: bytes, *, aad: str) -> str:
        kid = key_id(blob)
        aes = self._keys.get(kid)
        if aes is None:
            raise DecryptionError(f"no configured key has id {kid!r}")
        body = bytes(blob)[len(kid) + 1 :]
        nonce, sealed = body[:NONCE_BYTES], body[NONCE_BYTES:]
        try:
            return aes.decrypt(nonce, sealed, aad.encode()).decode()
        except InvalidTag:
            raise DecryptionError(f"value sealed with key {kid!r} fails authentication") from None

    def is_current(self, blob: bytes) -> bool:
        """Whether ``blob`` is already sealed with the newest key."""
        return key_id(blob) == self.current_kid

    def reseal(self, blob: bytes, *, aad: str) -> bytes:
        """``blob`` re-encrypted under the newest key (unchanged when it already is)."""
        return blob if self.is_current(blob) else self.encrypt(self.decrypt(blob, aad=aad), aad=aad)

    # Convenience for the grants table: the AAD is always "<grant_id>:<column>".
    def seal_field(self, grant_id: str, field: str, value: str) -> bytes:
        return self.encrypt(value, aad=field_aad(grant_id, field))

    def open_field(self, grant_id: str, field: str, blob: bytes) -> str:
        return self.decrypt(blob, aad=field_aad(grant_id, field))


def field_aad(row_id: str, field: str) -> str:
    return f"{row_id}:{field}"


def key_id(blob: bytes) -> str:
    head, sep, _ = bytes(blob).partition(SEPARATOR)
    if not sep or not head:
        raise DecryptionError("value carries no key id")
    return head.decode("ascii", errors="replace")


def token_hash(refresh_token: str) -> str:
    """Google's ``hash_base64_sha512_sha512`` identifier: base64 of SHA-512 over SHA-512's raw digest."""
    inner = hashlib.sha512(refresh_token.encode()).digest()
    return base64.b64encode(hashlib.sha512(inner).digest()).decode()


def token_prefix_hash(token_or_prefix: str) -> str:
    """Hex SHA-256 of the first 16 characters: matches a RISC ``prefix`` identifier without storing it."""
    return hashlib.sha256(token_or_prefix[:16].encode()).hexdigest()


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()
