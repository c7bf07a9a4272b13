"""Writing the audit trail (21 CFR 11.10(e); NMPA GMP Art. 27; DESIGN §4 and §8).

Every service that creates, changes or deletes a business record calls ``record_create``,
``record_update`` or ``record_delete`` inside its transaction, so the record and its audit entry
are stored together or not at all. Entries form one hash chain:
``hash = SHA-256(prev_hash + canonical JSON of the entry)``, appended under a row lock on
``AuditHead`` so concurrent writers never fork the chain.

A model whose changes are regulated sets ``AUDIT_REASON_REQUIRED = True``: updating or deleting
it without a reason is refused. ``AUDIT_MASKED_FIELDS`` names fields whose values never enter the
trail (only the fact that they changed).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.db import models, transaction
from django.utils import timezone

from medtrace.core.bulk_insert import insert_records
from medtrace.core.fields import fingerprint
from medtrace.errors import ValidationFailed
from medtrace.lib.hashing import jsonable, sha256_hex

from .context import current
from .models import AuditAction, AuditEntry, AuditHead

GENESIS_HASH = "0" * 64
MASK = "***"
# Never copied into the trail: secrets and bookkeeping that is not the record's content.
EXCLUDED_FIELDS = frozenset({"password", "token_hash", "last_login"})

HASHED_FIELDS = (
    "seq",
    "at",
    "actor_id",
    "actor_name",
    "source",
    "action",
    "object_type",
    "object_id",
    "object_repr",
    "changes",
    "reason",
    "request_id",
)


def entry_payload(values: Mapping[str, Any]) -> dict[str, Any]:
    return {name: values[name] for name in HASHED_FIELDS}


def entry_hash(prev_hash: str, values: Mapping[str, Any]) -> str:
    """The chain hash of one entry, from its stored values (also used by verify)."""
    payload = jsonable(entry_payload(values))
    return sha256_hex(prev_hash.encode("ascii") + sha256_hex(payload).encode("ascii"))


def label_of(model: type[models.Model] | models.Model) -> str:
    return model._meta.label_lower


def requires_reason(model: type[models.Model] | models.Model) -> bool:
    return bool(getattr(model, "AUDIT_REASON_REQUIRED", False))


def require_reason(
    model: type[models.Model] | models.Model, reason: str | None, *, action: str = "change"
) -> str:
    """Refuse a change to a regulated record that comes without a reason."""
    text = (reason or current().reason or "").strip()
    if requires_reason(model) and not text:
        name = model._meta.verbose_name
        message = (
            f"reason: a {name} is a regulated record; to {action} it, give a reason "
            "(the 'reason' field, or the X-Change-Reason header)"
        )
        raise ValidationFailed(
            message,
            field="reason",
            details=[{"field": "reason", "message": message, "code": "reason_required"}],
        )
    return text


def snapshot(
    instance: models.Model, *, links: Mapping[str, list[Any]] | None = None
) -> dict[str, Any]:
    """The record's stored field values as JSON data (foreign keys by id; masked fields masked).

    ``links``: the record's many-to-many values (field name -> related ids) when the caller
    loaded them for many records at once (``record_create_many``); else one query per field."""
    masked = set(getattr(instance, "AUDIT_MASKED_FIELDS", ()))
    data: dict[str, Any] = {}
    for field in instance._meta.concrete_fields:
        if field.name in EXCLUDED_FIELDS or getattr(field, "auto_now", False):
            # auto_now timestamps change on every save; the entry carries its own time.
            continue
        value = field.value_from_object(instance)
        if field.name in masked:
            # Only that it changed: a keyed fingerprint (a bare SHA-256 of a phone or ID number
            # is reversed by trying every number).
            data[field.name] = MASK if value not in (None, "", b"") else value
            data[f"{field.name}.fingerprint"] = (
                fingerprint(str(value), field=f"{instance._meta.label_lower}.{field.name}")
                if value
                else None
            )
        else:
            data[field.name] = jsonable(value)
    if instance.pk is not None:
        # Group memberships and similar links are part of the record (who may do what).
        for m2m in instance._meta.many_to_many:
            if links is not None:
                data[m2m.name] = sorted(links.get(m2m.name, []))
            else:
                data[m2m.name] = sorted(getattr(instance, m2m.name).values_list("pk", flat=True))
    return data


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, list[Any]]:
    """{field: [old, new]} for every field whose value differs."""
    changes: dict[str, list[Any]] = {}
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if old != new:
            changes[key] = [old, new]
    return changes


def _actor(user: Any) -> tuple[Any, str]:
    if user is None:
        user = current().user
    if user is None or not getattr(user, "pk", None):
        ctx = current()
        return None, f"<{ctx.source}>"
    return user, user.get_username()


def record(
    *,
    action: str,
    object_type: str,
    object_id: Any,
    object_repr: str,
    changes: Mapping[str, Any] | None = None,
    user: Any = None,
    reason: str = "",
) -> AuditEntry:
    """Append one entry to the chain (in the caller's transaction)."""
    ctx = current()
    actor, actor_name = _actor(user)
    with transaction.atomic():
        head = AuditHead.objects.select_for_update().filter(pk=1).first()
        if head is None:
            head = AuditHead.objects.create(pk=1, seq=0, hash=GENESIS_HASH)
            head = AuditHead.objects.select_for_update().get(pk=1)
        values: dict[str, Any] = {
            "seq": head.seq + 1,
            "at": timezone.now(),
            "actor_id": actor.pk if actor is not None else None,
            "actor_name": actor_name,
            "source": ctx.source,
            "action": str(action),
            "object_type": object_type,
            "object_id": str(object_id),
            "object_repr": str(object_repr)[:300],
            "changes": jsonable(dict(changes or {})),
            "reason": (reason or ctx.reason or "").strip(),
            "request_id": ctx.request_id,
        }
        entry = AuditEntry(**values, prev_hash=head.hash, hash=entry_hash(head.hash, values))
        entry.save(force_insert=True)
        head.seq, head.hash = entry.seq, entry.hash
        head.save(update_fields=["seq", "hash"])
    return entry


def _many_links(instances: Sequence[models.Model]) -> dict[int, dict[str, list[Any]]]:
    """Many-to-many ids of many records of one model: one query per field, not per record
    (records of mixed models: none, ``snapshot`` queries each)."""
    fields = instances[0]._meta.many_to_many if instances else ()
    if not fields or any(type(i) is not type(instances[0]) for i in instances):
        return {}
    out: dict[int, dict[str, list[Any]]] = {id(i): {} for i in instances}
    by_pk = {i.pk: out[id(i)] for i in instances}
    for field in fields:
        through = field.remote_field.through
        assert through is not None
        source, target = field.m2m_column_name(), field.m2m_reverse_name()
        for links in by_pk.values():
            links[field.name] = []
        pks = list(by_pk)
        for start in range(0, len(pks), 1000):
            rows = through._default_manager.filter(
                **{f"{source}__in": pks[start : start + 1000]}
            ).values_list(source, target)
            for owner, related in rows:
                by_pk[owner][field.name].append(related)
    return out


def record_create_many(
    instances: Sequence[models.Model], *, user: Any = None, reason: str = ""
) -> list[AuditEntry]:
    """``record_create`` for many rows at once: the chain head is locked once, the entries are
    chained in order in memory and written with one bulk insert (the same entries, hashes and
    order as one call per row would give)."""
    if not instances:
        return []
    ctx = current()
    actor, actor_name = _actor(user)
    links = _many_links(instances)
    with transaction.atomic():
        head = AuditHead.objects.select_for_update().filter(pk=1).first()
        if head is None:
            head = AuditHead.objects.create(pk=1, seq=0, hash=GENESIS_HASH)
            head = AuditHead.objects.select_for_update().get(pk=1)
        at = timezone.now()
        seq, prev = head.seq, head.hash
        entries = []
        for instance in instances:
            seq += 1
            values: dict[str, Any] = {
                "seq": seq,
                "at": at,
                "actor_id": actor.pk if actor is not None else None,
                "actor_name": actor_name,
                "source": ctx.source,
                "action": str(AuditAction.CREATE),
                "object_type": label_of(instance),
                "object_id": str(instance.pk),
                "object_repr": str(instance)[:300],
                "changes": jsonable(dict(snapshot(instance, links=links.get(id(instance))))),
                "reason": (reason or ctx.reason or "").strip(),
                "request_id": ctx.request_id,
            }
            digest = entry_hash(prev, values)
            entries.append(AuditEntry(**values, prev_hash=prev, hash=digest))
            prev = digest
        # COPY / one executemany: bulk_create's per-value compilation cost more than the hashing
        # for an import of 100k records (core.bulk_insert).
        insert_records(AuditEntry, entries)
        head.seq, head.hash = seq, prev
        head.save(update_fields=["seq", "hash"])
    return entries


def record_create(instance: models.Model, *, user: Any = None, reason: str = "") -> AuditEntry:
    return record(
        action=AuditAction.CREATE,
        object_type=label_of(instance),
        object_id=instance.pk,
        object_repr=str(instance),
        changes=snapshot(instance),
        user=user,
        reason=reason,
    )


def record_update(
    instance: models.Model, before: Mapping[str, Any], *, user: Any = None, reason: str = ""
) -> AuditEntry | None:
    """Record what changed since ``before`` (a ``snapshot``); nothing if nothing changed."""
    changes = diff(before, snapshot(instance))
    if not changes:
        return None
    text = require_reason(instance, reason)
    return record(
        action=AuditAction.UPDATE,
        object_type=label_of(instance),
        object_id=instance.pk,
        object_repr=str(instance),
        changes=changes,
        user=user,
        reason=text,
    )


def record_delete(
    instance: models.Model,
    before: Mapping[str, Any],
    *,
    object_id: Any,
    user: Any = None,
    reason: str = "",
) -> AuditEntry:
    """Record a deletion with the last values (``object_id``: the pk before it was cleared)."""
    text = require_reason(instance, reason, action="delete")
    return record(
        action=AuditAction.DELETE,
        object_type=label_of(instance),
        object_id=object_id,
        object_repr=str(instance),
        changes=dict(before),
        user=user,
        reason=text,
    )


def history(object_type: str, object_id: Any) -> models.QuerySet[AuditEntry]:
    """Every entry of one record, oldest first (nothing is ever hidden or collapsed)."""
    return AuditEntry.objects.filter(object_type=object_type, object_id=str(object_id)).order_by(
        "seq"
    )
