"""Shared writes of the lifecycle apps: document numbers, attachments, our own party."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from medtrace.accounts.models import User
from medtrace.errors import NotFound, ValidationFailed
from medtrace.masterdata.models import Party, PartyRole

from .models import Attachment, DocumentCounter


def next_number(kind: str) -> str:
    """The next document number of ``kind`` this year: ``PO-2026-000001``.

    Call it inside the transaction that stores the document: the counter row stays locked until
    that commits, so numbers are gap-free per committed document and never handed out twice.
    """
    year = timezone.localdate().year
    with transaction.atomic():
        DocumentCounter.objects.get_or_create(kind=kind, year=year)
        counter = DocumentCounter.objects.select_for_update().get(kind=kind, year=year)
        counter.value += 1
        counter.save(update_fields=["value"])
    return f"{kind}-{year}-{counter.value:06d}"


def next_numbers(kind: str, count: int) -> list[str]:
    """``count`` consecutive document numbers of ``kind`` in one counter update (a recall's
    holds on thousands of units), under the same row lock as ``next_number``."""
    if count <= 0:
        return []
    year = timezone.localdate().year
    with transaction.atomic():
        DocumentCounter.objects.get_or_create(kind=kind, year=year)
        counter = DocumentCounter.objects.select_for_update().get(kind=kind, year=year)
        first = counter.value + 1
        counter.value += count
        counter.save(update_fields=["value"])
    return [f"{kind}-{year}-{n:06d}" for n in range(first, first + count)]


def _path(sha256: str) -> Path:
    return Path(settings.ATTACHMENT_DIR) / sha256[:2] / sha256


def attachment_store(
    *, name: str, content: bytes, content_type: str = "", user: User | None, field: str = "file"
) -> Attachment:
    """Keep ``content`` and return its Attachment row (SHA-256 recorded). ``field`` names the
    form or API field in errors."""
    name = os.path.basename((name or "").strip())
    if not name:
        raise ValidationFailed(f"{field}: the file has no name", field=field)
    if not content:
        raise ValidationFailed(f"{field}: the file {name!r} is empty", field=field)
    limit = settings.ATTACHMENT_MAX_BYTES
    if len(content) > limit:
        raise ValidationFailed(
            f"{field}: the file {name!r} is {len(content)} bytes; at most {limit} are accepted",
            field=field,
        )
    digest = hashlib.sha256(content).hexdigest()
    path = _path(digest)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".part")
        tmp.write_bytes(content)
        tmp.replace(path)
    return Attachment.objects.create(
        name=name[:255],
        content_type=(content_type or "application/octet-stream")[:100],
        size=len(content),
        sha256=digest,
        uploaded_by=user,
    )


def attachment_read(attachment: Attachment) -> bytes:
    """The attachment's bytes, checked against the SHA-256 recorded when it was stored."""
    path = _path(attachment.sha256)
    if not path.exists():
        raise NotFound(f"The file of attachment {attachment.pk} ({attachment.name}) is missing")
    content = path.read_bytes()
    if hashlib.sha256(content).hexdigest() != attachment.sha256:
        raise ValidationFailed(
            f"attachment {attachment.pk} ({attachment.name}): the stored file no longer matches "
            f"its SHA-256 {attachment.sha256}; it was altered after upload",
            field="attachment",
        )
    return content


def own_party() -> Party:
    """Our own company: ``OWN_PARTY_GLN``, or the one active manufacturer in master data."""
    qs = Party.objects.filter(active=True)
    if settings.OWN_PARTY_GLN:
        party = qs.filter(gln=settings.OWN_PARTY_GLN).first()
    else:
        party = qs.filter(role=PartyRole.MANUFACTURER).order_by("pk").first()
    if party is None:
        raise ValidationFailed(
            "No own company in master data: add a party with the role manufacturer, or set "
            "MEDTRACE_OWN_PARTY_GLN",
            field="party",
        )
    return party
