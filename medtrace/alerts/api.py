"""Webhook subscriptions over the API (mounted at /api/v1/): the administrator's.

The secret is in the answer of the create and rotate calls only; listing never shows it.
Scope ``webhooks:manage``; permission ``alerts.*_webhooksubscription`` (the admin role).
"""

# No `from __future__ import annotations`: ninja reads the schemas from the annotations.
from datetime import datetime, timedelta

from django.http import HttpRequest
from ninja import Router, Schema, Status
from ninja.pagination import paginate
from pydantic import ConfigDict, Field

from medtrace.accounts.models import User
from medtrace.api import require_scope
from medtrace.core.pagination import Pagination
from medtrace.errors import NotFound, PermissionDenied, ValidationFailed
from medtrace.masterdata.models import Party

from . import webhooks
from .models import WebhookSubscription

router = Router(tags=["webhooks"])

SCOPE = "webhooks:manage"


class StrictIn(Schema):
    model_config = ConfigDict(extra="forbid")


class SubscriptionIn(StrictIn):
    url: str = Field(description="Where to POST (http or https)")
    event_types: list[str] = Field(
        description='Events to deliver: "recall.notice", or "*" for every event'
    )
    party_id: int | None = Field(None, description="The partner whose system receives them")
    system_name: str = Field("", description="Or: the name of one of our own systems")


class RotateIn(StrictIn):
    grace_hours: int = Field(
        24,
        description="How long the old secret stays valid (deliveries are signed with both "
        "meanwhile); 0 revokes it now",
    )


class SubscriptionOut(Schema):
    id: int
    party_id: int | None
    party: str
    system_name: str
    url: str
    event_types: list[str]
    active: bool
    created_at: datetime
    rotated_at: datetime | None
    previous_secret_expires_at: datetime | None


class SubscriptionSecretOut(SubscriptionOut):
    secret: str = Field(
        description="Shown this once: give it to the receiver to verify X-Medtrace-Signature"
    )


def _user(request: HttpRequest, scope: str, permission: str) -> User:
    require_scope(request, scope)
    assert isinstance(request.user, User)  # every route is authenticated
    if not request.user.has_perm(permission):
        raise PermissionDenied(
            f"Webhook subscriptions are managed by the administrator (permission {permission})",
            details={"required_permission": permission},
        )
    return request.user


def _out(sub: WebhookSubscription) -> dict[str, object]:
    return {
        "id": sub.pk,
        "party_id": sub.party_id,
        "party": sub.party.name if sub.party else "",
        "system_name": sub.system_name,
        "url": sub.url,
        "event_types": sub.event_types,
        "active": sub.active,
        "created_at": sub.created_at,
        "rotated_at": sub.rotated_at,
        "previous_secret_expires_at": sub.previous_secret_expires_at,
    }


@router.get("/webhook-subscriptions", response=list[SubscriptionOut])
@paginate(Pagination)
def list_subscriptions(
    request: HttpRequest, party_id: int | None = None
) -> list[dict[str, object]]:
    """Every webhook subscription (never a secret)."""
    _user(request, SCOPE, "alerts.view_webhooksubscription")
    qs = WebhookSubscription.objects.select_related("party").order_by("pk")
    if party_id is not None:
        qs = qs.filter(party_id=party_id)
    return [_out(s) for s in qs]


@router.post("/webhook-subscriptions", response={201: SubscriptionSecretOut})
def create_subscription(request: HttpRequest, payload: SubscriptionIn) -> Status:
    """A new subscription; the answer carries its secret, this once."""
    user = _user(request, SCOPE, "alerts.add_webhooksubscription")
    party = None
    if payload.party_id is not None:
        party = Party.objects.filter(pk=payload.party_id).first()
        if party is None:
            raise ValidationFailed(
                f"party_id: no party {payload.party_id} in master data", field="party_id"
            )
    sub, secret = webhooks.webhook_subscription_create(
        url=payload.url,
        event_types=payload.event_types,
        party=party,
        system_name=payload.system_name,
        user=user,
    )
    return Status(201, {**_out(sub), "secret": secret})


@router.post("/webhook-subscriptions/{subscription_id}/rotate", response=SubscriptionSecretOut)
def rotate_subscription(
    request: HttpRequest, subscription_id: int, payload: RotateIn
) -> dict[str, object]:
    """A new secret (in the answer, this once); the old one stays valid for ``grace_hours``."""
    user = _user(request, SCOPE, "alerts.change_webhooksubscription")
    sub = WebhookSubscription.objects.select_related("party").filter(pk=subscription_id).first()
    if sub is None:
        raise NotFound(f"No webhook subscription {subscription_id}")
    sub, secret = webhooks.webhook_subscription_rotate(
        subscription=sub, user=user, grace=timedelta(hours=payload.grace_hours)
    )
    return {**_out(sub), "secret": secret}
