"""Account writes: API tokens.

Every token created or revoked leaves an audit entry (action ``token``) naming the token's
owner, prefix, name, scopes and expiry; never the secret or its hash.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from medtrace.audit import services as audit
from medtrace.audit.models import AuditAction
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
        "audit:read",
        "records:sign",
        "implants:read",
        "implants:write",
        "implants:reveal",
        "production:write",
        # The lifecycle documents (issue 5): reading them, and writing each department's.
        "lifecycle:read",
        "procurement:write",
        "quality:write",
        "warehouse:write",
        "distribution:write",
        "service:write",
        "partner:receive",
        # Recalls (issue 6): reading campaigns and running them (internal staff only);
        # partners acknowledge and report with recall:ack.
        "recalls:read",
        "recalls:write",
        # Webhook subscriptions (issue 6): the administrator manages partner receivers.
        "webhooks:manage",
        # Complaints (issue 6): reading them (a hospital partner: its own), handling them
        # (internal staff), and a hospital partner's own complaint reports.
        "complaints:read",
        "complaints:write",
        "complaints:submit",
        # After-sales and recall KPIs (issue 6): company-wide figures, internal only.
        "kpis:read",
        # Alerts (issue 7): the work queue (reading, acting on alerts), the alert rules'
        # settings, and the outbox's dead letters (administrator). Internal staff only.
        "alerts:read",
        "alerts:write",
        "alerts:manage",
        "outbox:manage",
        # Exports (issue 7): DI data for the UDI databases (internal staff) and FHIR Device
        # resources (partners: their own devices).
        "exports:read",
        # Imports (issue 7): upload CSV/XLSX files of master data or legacy histories and follow
        # the import jobs (internal staff and systems only).
        "imports:write",
    }
)
# What a partner's token may carry: the reads that partner scoping (accounts/scoping.py) limits
# to the party's custody, recall acknowledgement and implant records. Capture, master-data
# writes, the audit trail and e-signing are for internal users and systems. A scope is only a
# ceiling: the user's role and party scoping still decide every request.
PARTNER_SCOPES = KNOWN_SCOPES & frozenset(
    {
        "masterdata:read",
        "epcis:query",
        "trace:read",
        "recall:ack",
        "implants:read",
        "implants:write",
        "lifecycle:read",
        "partner:receive",
        "complaints:read",
        "complaints:submit",
        "exports:read",
    }
)
MAX_TOKEN_DAYS_UI = 365
# last_used_at is written at most this often per token, so reads do not turn into writes.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def scopes_for(user: User) -> frozenset[str]:
    """The scopes a token of ``user`` may carry."""
    return PARTNER_SCOPES if user.party_id is not None else KNOWN_SCOPES


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def token_create(
    *,
    user: User,
    scopes: list[str] | None = None,
    days: int | None = 90,
    name: str = "",
    actor: User | None = None,
) -> tuple[ApiToken, str]:
    """Create a token and return it with its secret, which is shown once and never stored.

    ``actor`` is who creates it (the owner on the tokens page; None on the command line, where
    the audit entry names the channel).
    """
    scopes = sorted(set(scopes or []))
    unknown = [s for s in scopes if s not in KNOWN_SCOPES]
    if unknown:
        raise ValidationFailed(
            f"Unknown scope {unknown[0]!r}: expected one of {', '.join(sorted(KNOWN_SCOPES))}",
            field="scopes",
        )
    allowed = scopes_for(user)
    refused = [s for s in scopes if s not in allowed]
    if refused:
        raise ValidationFailed(
            f"A partner user's token cannot carry the scope {refused[0]!r}: "
            f"expected one of {', '.join(sorted(allowed))}",
            field="scopes",
        )
    if not scopes:
        raise ValidationFailed("Choose at least one scope", field="scopes")
    if days is not None and days < 1:
        raise ValidationFailed("A token must be valid for at least 1 day", field="days")
    name = name.strip()
    if len(name) > 100:
        raise ValidationFailed("name: at most 100 characters", field="name")
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
        audit.record(
            action=AuditAction.TOKEN,
            object_type="accounts.apitoken",
            object_id=token.pk,
            object_repr=str(token),
            changes={"event": "created", **_token_facts(token)},
            user=actor,
        )
    return token, raw


def _token_facts(token: ApiToken) -> dict[str, Any]:
    # What the trail keeps of a token: never the secret or its hash.
    return {
        "owner": token.user.get_username(),
        "name": token.name,
        "prefix": token.prefix,
        "scopes": list(token.scopes),
        "expires_at": token.expires_at,
    }


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
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def token_revoke(*, token: ApiToken, actor: User | None = None) -> bool:
    """Revoke a token; False (and no audit entry) when it was already revoked."""
    now = timezone.now()
    with transaction.atomic():
        changed = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
            revoked_at=now
        )
        if not changed:
            return False
        token.revoked_at = now
        audit.record(
            action=AuditAction.TOKEN,
            object_type="accounts.apitoken",
            object_id=token.pk,
            object_repr=str(token),
            changes={"event": "revoked", **_token_facts(token), "revoked_at": now},
            user=actor,
        )
    return True


def token_status(token: ApiToken, *, now: Any = None) -> str:
    """``revoked``, ``expired`` or ``active``."""
    now = now or timezone.now()
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at is not None and token.expires_at <= now:
        return "expired"
    return "active"


def token_list(*, user: User | None = None, live_only: bool = False) -> QuerySet[ApiToken]:
    """Tokens, newest first; of one user when given; only usable ones with ``live_only``."""
    qs = ApiToken.objects.select_related("user").order_by("-created_at", "-pk")
    if user is not None:
        qs = qs.filter(user=user)
    if live_only:
        qs = qs.filter(revoked_at__isnull=True).filter(
            Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now())
        )
    return qs
