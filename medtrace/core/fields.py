"""Encrypted model fields for patient-linked data (PIPL / GDPR, DESIGN §8).

``EncryptedTextField`` keeps plain text in Python and only ``medtrace.lib.fieldcrypt`` tokens
in the database: values are encrypted in ``get_prep_value`` and decrypted in ``from_db_value``
with the key from ``settings.FIELD_KEY`` (``MEDTRACE_FIELD_KEY``). Each column is its own
associated data (``app_label.model.field``), so a token copied into another column does not
decrypt.

Ciphertext is random, so the database cannot compare values: every lookup except ``isnull`` is
refused. Exact searches go through a blind-index column (``blind_index``). Serialisation
(``dumpdata``) writes tokens, never plain text, and ``loaddata`` reads them back.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from medtrace.lib.fieldcrypt import FieldCipher, FieldCryptError, is_token


@lru_cache(maxsize=4)
def _cipher_for(key: bytes) -> FieldCipher:
    return FieldCipher(key)


def field_cipher() -> FieldCipher:
    """The cipher of the configured key (settings refuse to start without a valid one)."""
    return _cipher_for(bytes(settings.FIELD_KEY))


def blind_index(value: str, *, field: str) -> str:
    return field_cipher().blind_index(value, field=field)


def fingerprint(value: str, *, field: str) -> str:
    return field_cipher().fingerprint(value, field=field)


class EncryptedTextField(models.TextField):
    """Text stored as an AES-256-GCM token; plain text only in memory."""

    description = "Text encrypted at rest (AES-256-GCM)"

    def contribute_to_class(self, cls: type[models.Model], name: str, *args: Any, **kwargs: Any):
        super().contribute_to_class(cls, name, *args, **kwargs)
        self.associated_data = f"{cls._meta.label_lower}.{name}"

    # Python -> database ----------------------------------------------------------------------

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None:
            return None
        return field_cipher().encrypt(str(value), field=self.associated_data)

    # Database -> Python ----------------------------------------------------------------------

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> str | None:
        if value is None:
            return None
        return field_cipher().decrypt(value, field=self.associated_data)

    def to_python(self, value: Any) -> Any:
        # A serialised token (loaddata) comes back as plain text; anything else is plain text.
        if is_token(value):
            try:
                return field_cipher().decrypt(value, field=self.associated_data)
            except FieldCryptError as exc:
                raise ValidationError(str(exc), code="undecryptable") from exc
        return super().to_python(value)

    def value_to_string(self, obj: models.Model) -> str:
        value = self.value_from_object(obj)
        if value is None:
            return ""
        return field_cipher().encrypt(str(value), field=self.associated_data)

    # Queries ---------------------------------------------------------------------------------

    def get_lookup(self, lookup_name: str) -> Any:
        # Random nonces make equal values unequal in the database: only NULL tests mean anything.
        if lookup_name != "isnull":
            return None
        return super().get_lookup(lookup_name)

    def get_transform(self, lookup_name: str) -> Any:
        return None
