"""Field encryption for patient-linked data (PIPL / GDPR, DESIGN §8). Pure Python, no Django.

One 32-byte master key (``MEDTRACE_FIELD_KEY``) yields, through HKDF-SHA256 with separate labels,
independent sub-keys:

- an AES-256-GCM key that encrypts each value with a fresh random 96-bit nonce. The stored token
  is text: ``"v1:" + urlsafe-base64(nonce || ciphertext || tag)``. The field's name is the
  associated data, so a value copied into another column (or another table) fails to decrypt
  instead of being read as that column's value;
- an HMAC-SHA256 key for *blind indexes*: a keyed digest of a value that allows exact look-ups
  ("every implant of this ID number") without storing or decrypting the value. Without the key
  the digest cannot be brute-forced from the small space of phone or ID numbers;
- an HMAC-SHA256 key for *fingerprints*: short keyed digests the audit trail keeps instead of
  the value, to show that a value changed without saying what it is.

Decryption with the wrong key, or of a value altered in the database, raises ``FieldCryptError``
with a message that says which; it never returns garbage.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = ["KEY_BYTES", "PREFIX", "FieldCipher", "FieldCryptError", "is_token"]

KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
VERSION = "v1"
PREFIX = VERSION + ":"

_ENCRYPTION_LABEL = b"medtrace/field-encryption/aes-256-gcm/v1"
_INDEX_LABEL = b"medtrace/blind-index/hmac-sha256/v1"
_FINGERPRINT_LABEL = b"medtrace/audit-fingerprint/hmac-sha256/v1"


class FieldCryptError(ValueError):
    """A stored value cannot be decrypted: wrong key, altered value, or not a token at all."""


def is_token(value: object) -> bool:
    """Whether ``value`` has the shape of an encrypted token (not whether it decrypts)."""
    return isinstance(value, str) and value.startswith(PREFIX)


def _derive(master_key: bytes, label: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=label).derive(
        master_key
    )


def _associated_data(field: str) -> bytes:
    if not field:
        raise ValueError("a field name is required: it binds the value to its column")
    return b"medtrace-field:" + field.encode("utf-8")


class FieldCipher:
    """Encrypts, decrypts and indexes values with sub-keys of one master key."""

    def __init__(self, master_key: bytes) -> None:
        if not isinstance(master_key, bytes | bytearray) or len(master_key) != KEY_BYTES:
            size = len(master_key) if isinstance(master_key, bytes | bytearray) else "no"
            raise ValueError(f"the field key must be exactly {KEY_BYTES} bytes, got {size}")
        master = bytes(master_key)
        self._aead = AESGCM(_derive(master, _ENCRYPTION_LABEL))
        self._index_key = _derive(master, _INDEX_LABEL)
        self._fingerprint_key = _derive(master, _FINGERPRINT_LABEL)

    def __repr__(self) -> str:  # never show key material
        return "FieldCipher(<key hidden>)"

    # Encryption ------------------------------------------------------------------------------

    def encrypt(self, plaintext: str, *, field: str) -> str:
        """A fresh token for ``plaintext`` (different every call: random nonce)."""
        if not isinstance(plaintext, str):
            raise TypeError(f"only text is encrypted, got {type(plaintext).__name__}")
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plaintext.encode("utf-8"), _associated_data(field))
        return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")

    def decrypt(self, token: str, *, field: str) -> str:
        """The plaintext of ``token``; FieldCryptError when it cannot be trusted."""
        if not is_token(token):
            shown = type(token).__name__ if not isinstance(token, str) else "text"
            raise FieldCryptError(
                f"{field}: the stored value is not an encrypted token (expected {PREFIX!r}..., "
                f"got {shown} without that prefix); was plain text written around the field?"
            )
        try:
            raw = base64.urlsafe_b64decode(token[len(PREFIX) :].encode("ascii"))
        except (binascii.Error, ValueError, UnicodeEncodeError) as exc:
            raise FieldCryptError(f"{field}: the stored token is not valid base64") from exc
        if len(raw) < NONCE_BYTES + TAG_BYTES:
            raise FieldCryptError(f"{field}: the stored token is truncated")
        nonce, sealed = raw[:NONCE_BYTES], raw[NONCE_BYTES:]
        try:
            data = self._aead.decrypt(nonce, sealed, _associated_data(field))
        except InvalidTag as exc:
            raise FieldCryptError(
                f"{field}: the stored value cannot be decrypted: MEDTRACE_FIELD_KEY is not the "
                "key it was written with, or the value was altered or copied from another column"
            ) from exc
        return data.decode("utf-8")

    # Keyed digests ---------------------------------------------------------------------------

    def blind_index(self, value: str, *, field: str) -> str:
        """HMAC-SHA256 (hex) of ``value`` for exact look-ups; normalise ``value`` first."""
        message = _associated_data(field) + b"\x00" + value.encode("utf-8")
        return hmac.new(self._index_key, message, hashlib.sha256).hexdigest()

    def fingerprint(self, value: str, *, field: str) -> str:
        """A short keyed digest (16 hex) that shows a value changed without revealing it."""
        message = _associated_data(field) + b"\x00" + value.encode("utf-8")
        return hmac.new(self._fingerprint_key, message, hashlib.sha256).hexdigest()[:16]
