"""Secrets at rest, encrypted with a key derived from Server.SecretKey.

Each purpose gets its own key (HKDF-SHA256 with the purpose as `info`), so a key for one
use never decrypts another's values. Values are sealed with AES-256-GCM and stored as
"v1:" + base64url(nonce + ciphertext + tag); the prefix tells them from values an older
release wrote in clear, and leaves room for a later scheme. `context` (the row's owner) is
bound as associated data, so a sealed value copied onto another row does not open there.
"""
from __future__ import annotations

import base64
import binascii
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PREFIX = "v1:"
NONCE_BYTES = 12


class CannotDecrypt(Exception):
    """The value was sealed with another key (Server.SecretKey changed), for another row,
    or is damaged."""


class SecretBox:
    """Seals and opens the values of one purpose with one key derived from the secret key."""

    def __init__(self, secret_key: str, purpose: bytes):
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(secret_key.encode())
        self._aead = AESGCM(key)

    def seal(self, plaintext: str, context: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plaintext.encode(), context.encode())
        return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")

    def open(self, stored: str, context: str) -> str:
        if not is_sealed(stored):
            raise CannotDecrypt("the value is not sealed")
        try:
            raw = base64.urlsafe_b64decode(stored[len(PREFIX):].encode("ascii"))
            if len(raw) <= NONCE_BYTES:
                raise CannotDecrypt("the sealed value is too short")
            return self._aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], context.encode()).decode()
        except (InvalidTag, binascii.Error, ValueError, UnicodeError):
            raise CannotDecrypt("the sealed value does not open with this key") from None


def is_sealed(stored) -> bool:
    return isinstance(stored, str) and stored.startswith(PREFIX)
