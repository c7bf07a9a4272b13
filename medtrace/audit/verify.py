"""Recompute the audit chain and the ledger seals; sign and check checkpoints (DESIGN §8).

``verify()`` walks every entry in sequence order and checks, for each: the sequence has no gap,
``prev_hash`` is the previous entry's hash, and ``hash`` recomputes from the stored values. It
then recomputes each capture seal from the ledger rows, each e-signature against the entry that
recorded it, and each stored checkpoint. An exported checkpoint (kept outside the database)
proves the chain was not rebuilt from scratch: a re-chained database cannot reproduce the hash
the checkpoint signed at its sequence number.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from medtrace.lib.hashing import canonical_json, jsonable

from .models import AuditAction, AuditCheckpoint, AuditEntry, AuditHead, Signature
from .services import GENESIS_HASH, HASHED_FIELDS, entry_hash

CHECKPOINT_FORMAT = "medtrace-audit-checkpoint/1"
_SEAL_KEYS = ("events", "events_sha256", "retractions", "retractions_sha256")
_BATCH = 5000


@dataclass
class Problem:
    seq: int | None
    message: str

    def __str__(self) -> str:
        where = f"audit entry #{self.seq}" if self.seq is not None else "audit trail"
        return f"{where}: {self.message}"


@dataclass
class Report:
    entries: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS_HASH
    sealed_jobs: int = 0
    sealed_events: int = 0
    signatures: int = 0
    checkpoints: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_problem(self) -> Problem | None:
        return self.problems[0] if self.problems else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "entries": self.entries,
            "head_seq": self.head_seq,
            "head_hash": self.head_hash,
            "sealed_jobs": self.sealed_jobs,
            "sealed_events": self.sealed_events,
            "signatures": self.signatures,
            "checkpoints": self.checkpoints,
            "problems": [{"seq": p.seq, "message": p.message} for p in self.problems],
        }


def _entries() -> Iterator[dict[str, Any]]:
    last = -1
    columns = ("id", "prev_hash", "hash", *HASHED_FIELDS)
    while True:
        rows = list(
            AuditEntry.objects.filter(seq__gt=last).order_by("seq").values(*columns)[:_BATCH]
        )
        if not rows:
            return
        yield from rows
        last = rows[-1]["seq"]


def _check_chain(report: Report) -> dict[int, dict[str, Any]]:
    """Walk the chain; returns the capture and sign entries (by seq) for the later checks."""
    expected_seq = 1
    prev = GENESIS_HASH
    wanted: dict[int, dict[str, Any]] = {}
    for row in _entries():
        seq = row["seq"]
        report.entries += 1
        if seq != expected_seq:
            report.problems.append(
                Problem(
                    seq,
                    f"sequence gap: expected #{expected_seq} next, found #{seq} "
                    f"({seq - expected_seq} entr{'y' if seq - expected_seq == 1 else 'ies'} "
                    "missing: deleted?)",
                )
            )
        if row["prev_hash"] != prev:
            report.problems.append(
                Problem(
                    seq,
                    f"prev_hash {row['prev_hash'][:16]}… does not match the previous entry's "
                    f"hash {prev[:16]}… (an entry before it was changed, removed or inserted)",
                )
            )
        recomputed = entry_hash(row["prev_hash"], row)
        if recomputed != row["hash"]:
            report.problems.append(
                Problem(
                    seq,
                    f"content does not match its hash: the stored {row['action']} of "
                    f"{row['object_type']}:{row['object_id']} was altered after it was written "
                    f"(stored hash {row['hash'][:16]}…, recomputed {recomputed[:16]}…)",
                )
            )
        if row["action"] == AuditAction.CAPTURE:
            changes = row["changes"] if isinstance(row["changes"], dict) else {}
            # Compact: a store captured one event per request holds millions of seals.
            wanted[seq] = {
                "action": row["action"],
                "object_id": row["object_id"],
                "changes": {k: changes.get(k) for k in _SEAL_KEYS},
            }
        elif row["action"] == AuditAction.SIGN:
            wanted[seq] = row
        prev = row["hash"]
        expected_seq = seq + 1
    report.head_seq = expected_seq - 1
    report.head_hash = prev
    head = AuditHead.objects.filter(pk=1).first()
    if head is not None and (head.seq, head.hash) != (report.head_seq, report.head_hash):
        report.problems.append(
            Problem(
                head.seq,
                f"the chain head says #{head.seq} ({head.hash[:16]}…) but the last stored entry "
                f"is #{report.head_seq} ({report.head_hash[:16]}…): entries at the end were "
                "removed",
            )
        )
    return wanted


def _suspect_events(job_id: str) -> str:
    """Best effort: the first event of a job whose stored columns disagree with its document.

    The seal proves the job's rows changed; re-reading each stored document with the capture
    parser pinpoints an edited column (an edit of the document alone shows up as the job).
    """
    from medtrace.ledger.models import Event
    from medtrace.lib import epcis

    columns = (
        "event_type",
        "action",
        "event_time",
        "biz_step",
        "disposition",
        "read_point",
        "biz_location",
    )
    for row in (
        Event.objects.filter(capture_job_id=uuid.UUID(job_id))
        .order_by("id")
        .values("id", "event_id", "document", *columns)
    ):
        try:
            parsed = epcis.parse_event(row["document"], index=0)
        except Exception:  # an unreadable stored document is itself the finding
            return f"; event {row['event_id']} (row {row['id']}): its stored document is invalid"
        derived = {
            "event_type": parsed.type,
            "action": parsed.action,
            "event_time": parsed.event_time,
            "biz_step": parsed.biz_step,
            "disposition": parsed.disposition,
            "read_point": parsed.read_point,
            "biz_location": parsed.biz_location,
        }
        if (parsed.event_id or row["event_id"]) != row["event_id"]:
            return f"; event {row['event_id']} (row {row['id']}): eventID differs from its document"
        for name in columns:
            if derived[name] != row[name]:
                return (
                    f"; event {row['event_id']} (row {row['id']}): {name} is {row[name]!r} but "
                    f"its document says {derived[name]!r}"
                )
    return ""


@dataclass
class _Running:
    count: int = 0
    digest: Any = field(default_factory=hashlib.sha256)
    done: bool = False


def _stream_kind(
    report: Report,
    seals: dict[str, tuple[int, dict[str, Any]]],
    rows: Iterator[tuple[int, Any, str]],
    kind: str,
    unsealed: dict[str, int],
) -> None:
    """Fold one stream of (pk, job, digest) into per-job running hashes; compare each job's as
    soon as it holds as many rows as its seal says (so memory holds only open jobs)."""
    running: dict[str, _Running] = {}
    for pk, job, digest in rows:
        job_id = _job_key(job)
        if job_id not in seals:
            unsealed.setdefault(job_id, pk)
            continue
        seq, sealed = seals[job_id]
        state = running.get(job_id)
        if state is None:
            state = running[job_id] = _Running()
        if state.done:
            report.problems.append(
                Problem(
                    seq,
                    f"capture {job_id} sealed {sealed[kind]} {kind} but the ledger holds more "
                    f"(row {pk} was inserted later)",
                )
            )
            continue
        state.count += 1
        if kind == "events":
            report.sealed_events += 1
        state.digest.update(digest.encode("ascii"))
        if state.count == sealed[kind]:
            state.done = True
            if state.digest.hexdigest() != sealed[f"{kind}_sha256"]:
                suspect = _suspect_events(job_id) if kind == "events" else ""
                report.problems.append(
                    Problem(
                        seq,
                        f"capture {job_id}: the ledger {kind} no longer match their seal (a "
                        f"ledger row was edited after capture{suspect})",
                    )
                )
            state.digest = None
    for job_id, (seq, sealed) in seals.items():
        state = running.get(job_id)
        held = state.count if state is not None else 0
        if held < (sealed[kind] or 0):
            report.problems.append(
                Problem(
                    seq,
                    f"capture {job_id} sealed {sealed[kind]} {kind} but the ledger now holds "
                    f"{held} (ledger rows were deleted)",
                )
            )


def _job_key(job: Any) -> str:
    return "" if job is None else str(job)


def _check_ledger(report: Report, wanted: dict[int, dict[str, Any]]) -> None:
    from medtrace.ledger.seal import event_digests, retraction_digests

    seals = {
        row["object_id"]: (seq, row["changes"])
        for seq, row in wanted.items()
        if row["action"] == AuditAction.CAPTURE
    }
    report.sealed_jobs = len(seals)
    unsealed: dict[str, int] = {}
    _stream_kind(report, seals, event_digests(), "events", unsealed)
    _stream_kind(report, seals, retraction_digests(), "retractions", unsealed)
    if not unsealed:
        return
    # A capture that committed after the chain was read is not tampering: its seal is there
    # now, after the head this run verified.
    late = set(
        AuditEntry.objects.filter(
            action=AuditAction.CAPTURE,
            object_type="ledger.capturejob",
            object_id__in=[j for j in unsealed if j],
            seq__gt=report.head_seq,
        ).values_list("object_id", flat=True)
    )
    for job_id, pk in sorted(unsealed.items(), key=lambda item: item[1]):
        if job_id in late:
            continue
        report.problems.append(
            Problem(
                None,
                f"ledger row {pk} (capture {job_id or 'none'}) is not sealed by any capture "
                "entry (inserted?)",
            )
        )


def _check_signatures(report: Report, wanted: dict[int, dict[str, Any]]) -> None:
    from .signatures import signature_audit_changes

    by_signature = {
        row["changes"].get("signature_id"): row
        for row in wanted.values()
        if row["action"] == AuditAction.SIGN and isinstance(row["changes"], dict)
    }
    for sig in Signature.objects.order_by("id"):
        report.signatures += 1
        row = by_signature.get(sig.pk)
        if row is None:
            report.problems.append(
                Problem(None, f"signature {sig.pk} has no sign entry in the chain (inserted?)")
            )
            continue
        if row["changes"] != jsonable(signature_audit_changes(sig)):
            report.problems.append(
                Problem(
                    row["seq"],
                    f"signature {sig.pk} ({sig.printed_name}, {sig.meaning}) was altered after "
                    "signing: it differs from the entry that recorded it",
                )
            )


# Checkpoints ------------------------------------------------------------------------------------


def _payload(seq: int, hash_: str, at: str) -> bytes:
    return canonical_json(
        {"format": CHECKPOINT_FORMAT, "seq": seq, "hash": hash_, "at": at}
    ).encode()


def _private_key(path: Path) -> Ed25519PrivateKey:
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{path} does not hold an Ed25519 private key")
        return key
    key = Ed25519PrivateKey.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    return key


def _public_hex(key: Ed25519PublicKey) -> str:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()


def checkpoint_create(*, created_by: str, key_file: Path | None = None) -> dict[str, Any]:
    """Sign the current chain head; store the checkpoint and return its exportable form."""
    key = _private_key(key_file or settings.CHECKPOINT_KEY_FILE)
    with transaction.atomic():
        head = AuditHead.objects.select_for_update().filter(pk=1).first()
        seq, hash_ = (head.seq, head.hash) if head else (0, GENESIS_HASH)
        now = timezone.now()
        at = now.isoformat().replace("+00:00", "Z")
        signature = key.sign(_payload(seq, hash_, at)).hex()
        public = _public_hex(key.public_key())
        AuditCheckpoint.objects.create(
            seq=seq,
            hash=hash_,
            at=now,
            public_key=public,
            signature=signature,
            created_by=created_by,
        )
    return {
        "format": CHECKPOINT_FORMAT,
        "seq": seq,
        "hash": hash_,
        "at": at,
        "public_key": public,
        "signature": signature,
    }


def _signature_ok(public_hex: str, signature_hex: str, payload: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_hex)).verify(
            bytes.fromhex(signature_hex), payload
        )
    except (InvalidSignature, ValueError):
        return False
    return True


def load_checkpoint(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: not a readable checkpoint file ({exc})") from exc
    missing = [k for k in ("seq", "hash", "at", "public_key", "signature") if k not in data]
    if data.get("format") != CHECKPOINT_FORMAT or missing:
        raise ValueError(
            f"{path}: not a {CHECKPOINT_FORMAT} file"
            + (f" (missing {', '.join(missing)})" if missing else "")
        )
    return dict(data)


def check_external(report: Report, checkpoint: dict[str, Any], *, name: str = "checkpoint") -> None:
    """Hold the chain against a checkpoint exported earlier (and kept outside the database)."""
    payload = _payload(int(checkpoint["seq"]), str(checkpoint["hash"]), str(checkpoint["at"]))
    if not _signature_ok(checkpoint["public_key"], checkpoint["signature"], payload):
        report.problems.append(
            Problem(None, f"{name}: its Ed25519 signature is invalid (the file was altered)")
        )
        return
    seq = int(checkpoint["seq"])
    if seq == 0:
        return
    stored = AuditEntry.objects.filter(seq=seq).values_list("hash", flat=True).first()
    if stored is None:
        report.problems.append(
            Problem(seq, f"{name} signed entry #{seq}, which this database no longer has")
        )
    elif stored != checkpoint["hash"]:
        report.problems.append(
            Problem(
                seq,
                f"{name} signed hash {str(checkpoint['hash'])[:16]}… at #{seq} on "
                f"{checkpoint['at']}, but the chain now has {stored[:16]}…: the history up to "
                "that point was rewritten and re-chained",
            )
        )


def _check_stored_checkpoints(report: Report) -> None:
    for cp in AuditCheckpoint.objects.order_by("seq", "id"):
        report.checkpoints += 1
        check_external(
            report,
            {
                "seq": cp.seq,
                "hash": cp.hash,
                "at": cp.at.isoformat().replace("+00:00", "Z"),
                "public_key": cp.public_key,
                "signature": cp.signature,
            },
            name=f"stored checkpoint {cp.pk}",
        )


def verify(*, ledger: bool = True, checkpoints: Iterable[dict[str, Any]] = ()) -> Report:
    """Verify everything; the report lists every problem, the first one first."""
    report = Report()
    wanted = _check_chain(report)
    if ledger:
        _check_ledger(report, wanted)
    _check_signatures(report, wanted)
    _check_stored_checkpoints(report)
    for index, checkpoint in enumerate(checkpoints):
        check_external(report, checkpoint, name=f"exported checkpoint {index + 1}")
    return report
