"""Audit trail, record history and e-signature endpoints."""

from datetime import datetime

from django.http import HttpRequest, HttpResponse
from django.utils import translation
from ninja import Router, Status
from ninja.pagination import paginate

from medtrace.accounts.models import User
from medtrace.api import require_scope
from medtrace.core.pagination import Pagination
from medtrace.errors import NotFound, PermissionDenied

from . import selectors
from .pdf import record_pdf
from .schemas import AuditEntryOut, SignatureOut, SignIn, VerifyOut
from .signatures import signature_apply, signatures_for, signing_unlock
from .verify import verify

router = Router(tags=["audit trail and e-signatures"])


def _user(request: HttpRequest, scope: str = "audit:read") -> User:
    require_scope(request, scope)
    assert isinstance(request.user, User)
    return request.user


@router.get("/audit", response=list[AuditEntryOut])
@paginate(Pagination)
def list_audit(
    request: HttpRequest,
    object_type: str | None = None,
    object_id: str | None = None,
    actor: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
):
    """The audit trail, newest first (auditor, QA/RA, administrator)."""
    return selectors.audit_entries(
        user=_user(request),
        object_type=object_type,
        object_id=object_id,
        actor=actor,
        action=action,
        since=since,
        until=until,
    )


@router.get("/audit/verify", response=VerifyOut)
def verify_audit(request: HttpRequest, ledger: bool = True) -> dict[str, object]:
    """Recompute the hash chain (and the ledger seals unless ``ledger=false``) now."""
    selectors.require_audit_reader(_user(request))
    return verify(ledger=ledger).as_dict()


@router.get("/records/{object_type}/{object_id}/history", response=list[AuditEntryOut])
def record_history(request: HttpRequest, object_type: str, object_id: str):
    """Every audit entry of one record, oldest first, with field-level old and new values."""
    ref = selectors.resolve_record(object_type, object_id, user=_user(request))
    return list(selectors.record_history(ref))


@router.get("/records/{object_type}/{object_id}/signatures", response=list[SignatureOut])
def record_signatures(request: HttpRequest, object_type: str, object_id: str):
    """The record's e-signatures, each checked against the record as it is now."""
    ref = selectors.resolve_record(object_type, object_id, user=_user(request))
    return [view.as_dict() for view in selectors.record_signatures(ref)]


@router.post("/records/{object_type}/{object_id}/signatures", response={201: SignatureOut})
def sign_record(request: HttpRequest, object_type: str, object_id: str, payload: SignIn) -> Status:
    """Sign the record: the password is checked every time; wrong ones lock signing."""
    user = _user(request, "records:sign")
    ref = selectors.resolve_record(object_type, object_id, user=user)
    if ref.instance is None:
        raise NotFound(f"No record {object_type} {object_id}")
    if not user.has_perm("audit.add_signature"):
        raise PermissionDenied("Your role cannot sign records")
    sig = signature_apply(
        record=ref.instance,
        meaning=payload.meaning,
        user=user,
        password=payload.password,
        reason=payload.reason,
    )
    view = next(v for v in signatures_for(ref.instance) if v.signature.pk == sig.pk)
    return Status(201, view.as_dict())


@router.get("/records/{object_type}/{object_id}/pdf")
def record_pdf_export(request: HttpRequest, object_type: str, object_id: str) -> HttpResponse:
    """The record as PDF, with its signatures (signed by, when, meaning, valid) and history."""
    ref = selectors.resolve_record(object_type, object_id, user=_user(request))
    body = record_pdf(ref, language=translation.get_language() or "en")
    response = HttpResponse(body, content_type="application/pdf")
    name = f"{ref.object_type.replace('.', '-')}-{ref.object_id}.pdf"
    response["Content-Disposition"] = f'inline; filename="{name}"'
    return response


@router.post("/users/{username}/unlock-signing", response={204: None})
def unlock_signing(request: HttpRequest, username: str) -> Status:
    """Unlock a user's e-signing after a lock-out (QA/RA or administrator)."""
    actor = _user(request, "records:sign")
    if not actor.has_perm("audit.change_signingstate"):
        # Before the lookup, so that usernames cannot be probed.
        raise PermissionDenied("Only QA or an administrator can unlock e-signing")
    target = User.objects.filter(username=username).first()
    if target is None:
        raise NotFound(f"No user {username}")
    signing_unlock(user=target, by=actor)
    return Status(204, None)
