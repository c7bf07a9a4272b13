"""Electronic signatures (21 CFR 11.50, 11.70, 11.200; DESIGN §8).

``signature_apply`` re-authenticates the signer with their password every time, then records the
printed name, the UTC time, the meaning and the SHA-256 of the record's canonical content, with
an audit entry. The signature is bound to that content: when the record changes later,
``signature_valid`` is False and every view shows the signature as invalid.

A record's canonical content is ``record.signature_content()`` when the model defines it (e.g. a
BOM with its lines), else every stored field (``audit.services.snapshot``) minus the fields it
lists in ``SIGNATURE_EXCLUDE_FIELDS`` (bookkeeping that is not the record's substance).

``SIGNING_MAX_FAILURES`` wrong passwords in a row lock the user's signing and alert QA; a QA or
admin user unlocks it (``signing_unlock``, ``medtrace audit unlock-signing USER``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from medtrace.errors import PermissionDenied, ValidationFailed
from medtrace.lib.hashing import sha256_hex

from . import services as audit
from .models import AuditAction, Signature, SignatureMeaning, SigningState


def record_content(record: models.Model) -> Any:
    content = getattr(record, "signature_content", None)
    if callable(content):
        return content()
    data = audit.snapshot(record)
    for name in getattr(record, "SIGNATURE_EXCLUDE_FIELDS", ()):
        data.pop(name, None)
    return data


def content_sha256(record: models.Model) -> str:
    return sha256_hex(
        {"type": audit.label_of(record), "id": str(record.pk), "content": record_content(record)}
    )


def signature_audit_changes(sig: Signature) -> dict[str, Any]:
    """What the sign entry records about a signature (verify compares the row against it)."""
    return {
        "signature_id": sig.pk,
        "meaning": sig.meaning,
        "printed_name": sig.printed_name,
        "username": sig.username,
        "signed_at": sig.signed_at,
        "content_sha256": sig.content_sha256,
    }


def _state(user: Any) -> SigningState:
    state, _created = SigningState.objects.get_or_create(user=user)
    return state


def signing_locked(user: Any) -> bool:
    return SigningState.objects.filter(user=user, locked_at__isnull=False).exists()


def signature_precheck(*, user: Any, password: str, object_type: str, object_repr: str) -> None:
    """Check the signer before a signed step starts its transaction: active user, signing not
    locked, password right. A wrong password is counted (and may lock signing) even though the
    step then writes nothing. ``signature_apply`` inside the step signs the stored record."""
    if user is None or not user.is_authenticated or not user.is_active:
        raise PermissionDenied("An electronic signature needs an active, signed-in user")
    if signing_locked(user):
        raise PermissionDenied(
            "Your e-signing is locked after repeated wrong passwords; ask QA or an administrator "
            "to unlock it",
            details={"locked": True},
        )
    if not password or not user.check_password(password):
        _refuse(user, object_type, "", object_repr)


def _refuse_wrong_password(user: Any, record: models.Model) -> None:
    _refuse(user, audit.label_of(record), record.pk, str(record))


def _refuse(user: Any, object_type: str, object_id: Any, object_repr: str) -> None:
    """Count the failure (committed even though the signing fails) and lock at the limit."""
    from medtrace.alerts.services import alert_raise

    limit = settings.SIGNING_MAX_FAILURES
    with transaction.atomic():
        state = SigningState.objects.select_for_update().filter(user=user).first() or _state(user)
        state.failures += 1
        locked = state.failures >= limit
        if locked:
            state.locked_at = timezone.now()
        state.save()
        audit.record(
            action=AuditAction.SIGN_FAILED,
            object_type=object_type,
            object_id=object_id,
            object_repr=object_repr,
            changes={"failures": state.failures, "limit": limit},
            user=user,
        )
        if locked:
            audit.record(
                action=AuditAction.SIGN_LOCKED,
                object_type="accounts.user",
                object_id=user.pk,
                object_repr=user.get_username(),
                changes={"failures": state.failures},
                user=user,
            )
            alert_raise(
                kind="signing_locked",
                severity="critical",
                title=f"E-signing locked for {user.get_username()} after {limit} wrong passwords",
                message=(
                    f"{user.get_username()} entered a wrong password {limit} times in a row while "
                    f"signing {object_type} {object_id or object_repr}. Signing stays locked "
                    "until QA or an administrator unlocks it."
                ),
                recipient_role="qa_ra",
                evidence={
                    "user": user.get_username(),
                    "record": f"{object_type}:{object_id or object_repr}",
                },
                object_type="accounts.user",
                object_id=str(user.pk),
            )
    if locked:
        raise PermissionDenied(
            f"password: wrong password; signing is now locked after {limit} wrong passwords "
            "in a row, and QA has been alerted",
            field="password",
        )
    raise ValidationFailed(
        f"password: wrong password ({state.failures} of {limit} attempts before signing locks)",
        field="password",
    )


def signature_apply(
    *, record: models.Model, meaning: str, user: Any, password: str, reason: str = ""
) -> Signature:
    """Sign ``record`` as ``user``, who re-enters their password (checked every time).

    Call it outside an enclosing transaction: a wrong password must be counted even though the
    signing itself fails.
    """
    if meaning not in SignatureMeaning.values:
        raise ValidationFailed(
            f"meaning: {meaning!r} is not a signature meaning; expected one of "
            f"{', '.join(SignatureMeaning.values)}",
            field="meaning",
        )
    if user is None or not user.is_authenticated or not user.is_active:
        raise PermissionDenied("An electronic signature needs an active, signed-in user")
    if record.pk is None:
        raise ValidationFailed("record: only a stored record can be signed", field="record")
    if signing_locked(user):
        raise PermissionDenied(
            "Your e-signing is locked after repeated wrong passwords; ask QA or an administrator "
            "to unlock it",
            details={"locked": True},
        )
    if not password or not user.check_password(password):
        _refuse_wrong_password(user, record)
    now = timezone.now()
    with transaction.atomic():
        SigningState.objects.filter(user=user).update(failures=0)
        sig = Signature(
            object_type=audit.label_of(record),
            object_id=str(record.pk),
            object_repr=str(record)[:300],
            meaning=meaning,
            user=user,
            printed_name=user.display_name() if hasattr(user, "display_name") else str(user),
            username=user.get_username(),
            signed_at=now,
            content_sha256=content_sha256(record),
            reason=(reason or "").strip(),
        )
        sig.save()
        audit.record(
            action=AuditAction.SIGN,
            object_type=sig.object_type,
            object_id=sig.object_id,
            object_repr=sig.object_repr,
            changes=signature_audit_changes(sig),
            user=user,
            reason=sig.reason,
        )
    return sig


def signing_unlock(*, user: Any, by: Any) -> None:
    if by is not None and not by.has_perm("audit.change_signingstate"):
        raise PermissionDenied("Only QA or an administrator can unlock e-signing")
    with transaction.atomic():
        updated = SigningState.objects.filter(user=user, locked_at__isnull=False).update(
            failures=0, locked_at=None
        )
        if not updated:
            raise ValidationFailed(
                f"user: {user.get_username()}'s signing is not locked", field="user"
            )
        audit.record(
            action=AuditAction.SIGN_UNLOCKED,
            object_type="accounts.user",
            object_id=user.pk,
            object_repr=user.get_username(),
            user=by,
        )


@dataclass(frozen=True)
class SignatureView:
    signature: Signature
    valid: bool

    def as_dict(self) -> dict[str, Any]:
        s = self.signature
        return {
            "id": s.pk,
            "meaning": s.meaning,
            "printed_name": s.printed_name,
            "username": s.username,
            "signed_at": s.signed_at,
            "content_sha256": s.content_sha256,
            "reason": s.reason,
            "valid": self.valid,
            "status": "valid" if self.valid else "invalid: the record changed after signing",
        }


def signatures_for(record: models.Model) -> list[SignatureView]:
    """The record's signatures, oldest first, each checked against the record as it is now."""
    current = content_sha256(record)
    return [
        SignatureView(sig, sig.content_sha256 == current)
        for sig in Signature.objects.filter(
            object_type=audit.label_of(record), object_id=str(record.pk)
        ).order_by("signed_at", "id")
    ]
