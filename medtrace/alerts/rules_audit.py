"""Rule ``audit_chain_failed``: the audit chain, the ledger seals, the e-signatures or the
checkpoints no longer verify (21 CFR 11.10(e); DESIGN §8).

Periodic (``rule:audit_chain_failed``, daily): the worker runs the same verification as
``medtrace audit verify`` (``audit.verify.verify``, which streams the chain in batches) and,
when it finds problems, alerts the rule's recipients (QA/RA by default) with the problems as
evidence. The command raises the same alert through ``audit_chain_failed`` when it fails.

The chain cannot be repaired (it is append-only), so the finding lasts: the dedupe key is a
digest of the problems found, and the same set of problems alerts once. A new problem (more
tampering) changes the set, hence the key, and alerts again.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import TYPE_CHECKING

from django.utils.translation import gettext as _

from . import rules, schedule
from .models import Alert, AlertRuleKind
from .rules_support import Finding, fire_new

if TYPE_CHECKING:
    from medtrace.audit.verify import Report

KIND = AlertRuleKind.AUDIT_CHAIN_FAILED
EVERY = timedelta(hours=24)
MAX_LISTED = 50


def audit_chain_failed(report: Report) -> Alert | None:
    """Alert on a failed verification ``report`` (None: it passed, the rule is off, or these
    problems were alerted before)."""
    if report.ok:
        return None
    problems = [str(p) for p in report.problems]
    digest = hashlib.sha256("\n".join(problems).encode()).hexdigest()[:32]
    first = problems[0]
    finding = Finding(
        key=f"problems:{digest}",
        title=_("Audit-chain verification failed: %(count)s problems") % {"count": len(problems)},
        message=_(
            "The audit trail no longer verifies; the first problem: %(first)s. Records may have "
            "been altered outside medtrace. Secure the database and its backups, compare with "
            "the last exported checkpoint, and investigate before trusting the records."
        )
        % {"first": first},
        evidence={
            "first_problem": first,
            "problems": problems[:MAX_LISTED],
            "count": len(problems),
            "entries": report.entries,
            "head_seq": report.head_seq,
            "sealed_jobs": report.sealed_jobs,
            "signatures": report.signatures,
            "checkpoints": report.checkpoints,
        },
        object_type="audit.auditentry",
        object_id=str(report.problems[0].seq or ""),
    )
    raised = fire_new(KIND, [finding])
    return raised[0] if raised else None


def audit_chain_evaluate() -> str:
    """Verify the chain and the ledger seals; alert when they fail."""
    from medtrace.audit.verify import verify

    if not rules.rule(KIND).enabled:
        return f"{KIND}: disabled"
    report = verify(ledger=True)
    if report.ok:
        return f"{KIND}: verified {report.entries} entries, {report.sealed_jobs} captures"
    alert = audit_chain_failed(report)
    return f"{KIND}: {len(report.problems)} problems, {1 if alert else 0} new alerts"


@schedule.periodic(f"rule:{KIND}", every=EVERY)
def _job() -> str:
    return audit_chain_evaluate()
