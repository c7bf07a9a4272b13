"""Account writes: API tokens."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from medtrace.errors import ValidationFailed

from .models import ApiToken, User

TOKEN_PREFIX = "mt_"
KNOWN_SCOPES = frozenset(
    {
        "masterdata:read",
        "masterdata:write",
        "labels:read",
        "epcis:capture",
        "epcis:query",
        "trace:read",
        "recall:ack",
    }
)


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def token_create(
    *, user: User, scopes: list[str] | None = None, days: int | None = 90, name: str = ""
) -> tuple[ApiToken, str]:
    """Create a token and return it with its secret, which is shown once and never stored."""
    scopes = sorted(set(scopes or []))
    unknown = [s for s in scopes if s not in KNOWN_SCOPES]
    if unknown:
        raise ValidationFailed(
            f"Unknown scope {unknown[0]!r}: expected one of {', '.join(sorted(KNOWN_SCOPES))}",
            field="scopes",
        )
    if days is not None and days < 1:
        raise ValidationFailed("A token must be valid for at least 1 day", field="days")
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user,
            name=name,
            prefix=raw[:10],
            token_hash=hash_token(raw),
            scopes=scopes,
            expires_at=timezone.now() + timedelta(days=days) if days else None,
        )
    return token, raw


def token_authenticate(raw: str) -> ApiToken | None:
    """Return the live token for a raw secret, or None when unknown, expired or revoked."""
    token = (
        ApiToken.objects.select_related("user")
        .filter(token_hash=hash_token(raw), revoked_at__isnull=True)
        .first()
    )
    now = timezone.now()
    if token is None or not token.user.is_active:
        return None
    if token.expires_at is not None and token.expires_at <= now:
        return None
    # Touch last_used_at at most once a minute, so reads do not turn into writes.
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token


def token_revoke(*, token: ApiToken) -> None:
    ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
