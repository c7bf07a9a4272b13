"""Delivering a sent recall notice to its consignee: partner portal, e-mail and webhooks.

``deliver_notice`` records one ``NoticeDelivery`` per channel and target:

- **portal**: the notice is in the partner portal as soon as it is sent, so this is recorded
  ``sent`` at once (once per notice). It is the channel that never fails: whatever happens to
  e-mail and webhooks, the consignee finds the notice there.
- **email**: to the consignee's ``contact_email`` (master data), the notice PDF attached, the
  subject and text in the notice's language.
- **webhook**: a signed JSON POST (``alerts.webhooks``) to each active subscription of the
  consignee that takes ``recall.notice`` (or ``*``).

When the I/O happens. E-mail and webhook I/O never run inside a database transaction: a notice
whose transaction rolls back must not have been e-mailed, and a slow mail server must not hold
row locks. So ``deliver_notice`` writes each e-mail and webhook row first, as ``failed`` with the
detail ``QUEUED`` ("not attempted yet"), and queues an outbox message for it in the same
transaction (handlers ``recall.email`` / ``recall.webhook``, alerts/outbox.py). After the commit
the worker (or, with the immediate task backend, the same process) claims the row, does the I/O,
and updates the row to ``sent`` or ``failed`` with what happened (the server's answer, the
error). So the row always tells the truth: a process that dies before the attempt leaves
"failed: not attempted yet", never a false "sent". (A ``pending`` status would say this more
plainly; NoticeDelivery has none, so "failed" plus the detail carries it.)

Retrying is the outbox's: a failed attempt is tried again with exponential backoff, each try a
new attempt row, until the target is reached or the message becomes a dead letter (an alert to
the administrator, who can replay it). Calling ``deliver_notice`` again also works: targets
already ``sent`` are skipped, rows still queued keep their one outbox message, the rest get a new
attempt row.

Idempotency. A webhook's ``Idempotency-Key`` is ``<notice number>:webhook:<subscription id>``:
the same for every attempt to deliver that notice to that receiver, so a receiver that processed
an attempt whose answer was lost drops the retry.

A drill delivers nothing: every channel is recorded ``simulated``, naming whom it would have
reached.
"""

from __future__ import annotations

import smtplib
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import connection, transaction
from django.utils import translation
from django.utils.translation import gettext as _

from medtrace.accounts.models import User
from medtrace.alerts import outbox, webhooks
from medtrace.alerts.models import OutboxMessage, OutboxStatus, WebhookSubscription
from medtrace.audit import services as audit
from medtrace.errors import Conflict, ValidationFailed

from .common import PERM_NOTICE, now, require
from .documents import common as doc
from .documents import notice_pdf
from .models import (
    AffectedUnit,
    DeliveryChannel,
    DeliveryStatus,
    NoticeDelivery,
    NoticeStatus,
    RecallNotice,
)

EVENT = "recall.notice"
CHANNELS = (DeliveryChannel.PORTAL, DeliveryChannel.EMAIL, DeliveryChannel.WEBHOOK)
QUEUED = "queued: not attempted yet (the attempt runs after the transaction commits)"
ATTEMPTING = "attempting"


def deliver_notice(
    *, notice: RecallNotice, user: User | None, channels: Iterable[str] | None = None
) -> list[NoticeDelivery]:
    """Deliver a sent notice over ``channels`` (default: all); returns the rows of this call.

    Called inside a transaction, the e-mail and webhook attempts wait for its commit; called
    outside one, they run before this returns, and the rows returned show their outcome."""
    require(user, PERM_NOTICE, _("deliver recall notices"))
    wanted = _channels(channels)
    outside = not connection.in_atomic_block
    with transaction.atomic():
        locked = (
            RecallNotice.objects.select_for_update(of=("self",))
            .select_related("campaign", "consignee")
            .get(pk=notice.pk)
        )
        if locked.status == NoticeStatus.DRAFT:
            raise Conflict(
                _("%(n)s is a draft: send it first (recall_notices_send), then deliver it")
                % {"n": locked.number},
                field="status",
                details={"status": locked.status},
            )
        record = _simulate if locked.drill else _record
        rows = record(locked, wanted, user)
    if outside:
        for row in rows:
            row.refresh_from_db()
    return rows


def _channels(channels: Iterable[str] | None) -> list[str]:
    if channels is None:
        return list(CHANNELS)
    wanted = list(dict.fromkeys(channels))
    unknown = [c for c in wanted if c not in CHANNELS]
    if unknown or not wanted:
        raise ValidationFailed(
            f"channels: expected some of {', '.join(CHANNELS)}, got {wanted!r}",
            field="channels",
        )
    return wanted


def _create(notice: RecallNotice, user: User | None, **values: Any) -> NoticeDelivery:
    row = NoticeDelivery.objects.create(notice=notice, attempted_at=now(), **values)
    audit.record_create(row, user=user)
    return row


def _delivered(notice: RecallNotice, channel: str, recipient: str | None = None) -> bool:
    qs = NoticeDelivery.objects.filter(
        notice=notice,
        channel=channel,
        status__in=(DeliveryStatus.SENT, DeliveryStatus.SIMULATED),
    )
    if recipient is not None:
        qs = qs.filter(recipient=recipient)
    return qs.exists()


def _queued(notice: RecallNotice, channel: str, recipient: str) -> NoticeDelivery | None:
    return (
        NoticeDelivery.objects.filter(
            notice=notice,
            channel=channel,
            recipient=recipient,
            status=DeliveryStatus.FAILED,
            detail=QUEUED,
        )
        .order_by("-id")
        .first()
    )


def _record(notice: RecallNotice, wanted: list[str], user: User | None) -> list[NoticeDelivery]:
    rows: list[NoticeDelivery] = []
    consignee = notice.consignee
    if DeliveryChannel.PORTAL in wanted and not _delivered(notice, DeliveryChannel.PORTAL):
        rows.append(
            _create(
                notice,
                user,
                channel=DeliveryChannel.PORTAL,
                status=DeliveryStatus.SENT,
                recipient=consignee.name[:500],
                detail=_("published in the partner portal: %(path)s")
                % {"path": doc.portal_path(notice.number)},
            )
        )
    user_id = user.pk if user is not None else None
    if DeliveryChannel.EMAIL in wanted:
        address = (consignee.contact_email or "").strip()
        if not address:
            rows.append(
                _create(
                    notice,
                    user,
                    channel=DeliveryChannel.EMAIL,
                    status=DeliveryStatus.FAILED,
                    recipient="",
                    detail=_(
                        "no e-mail address: %(party)s has no contact e-mail in master data; "
                        "add it and deliver again (the notice is in the partner portal)"
                    )
                    % {"party": consignee.name},
                )
            )
        elif not _delivered(notice, DeliveryChannel.EMAIL, address):
            row = _queued(notice, DeliveryChannel.EMAIL, address) or _create(
                notice,
                user,
                channel=DeliveryChannel.EMAIL,
                status=DeliveryStatus.FAILED,
                recipient=address[:500],
                detail=QUEUED,
            )
            rows.append(row)
            _queue(row, "recall.email", user_id=user_id)
    if DeliveryChannel.WEBHOOK in wanted:
        for sub in webhooks.subscriptions_for(party=consignee, event=EVENT):
            if _delivered(notice, DeliveryChannel.WEBHOOK, sub.url):
                continue
            row = _queued(notice, DeliveryChannel.WEBHOOK, sub.url) or _create(
                notice,
                user,
                channel=DeliveryChannel.WEBHOOK,
                status=DeliveryStatus.FAILED,
                recipient=sub.url[:500],
                detail=QUEUED,
            )
            rows.append(row)
            _queue(row, "recall.webhook", user_id=user_id, subscription_id=sub.pk)
    return rows


def _queue(row: NoticeDelivery, handler: str, **payload: Any) -> None:
    """Queue the attempt of ``row`` in the outbox, in this transaction (once per queued row)."""
    pending = OutboxMessage.objects.filter(
        handler=handler, status=OutboxStatus.PENDING, payload__delivery_id=row.pk
    )
    if pending.exists():
        return
    outbox.emit(
        handler,
        event_type=EVENT,
        payload={"delivery_id": row.pk, **payload},
        target=row.recipient,
    )


def _simulate(notice: RecallNotice, wanted: list[str], user: User | None) -> list[NoticeDelivery]:
    """A drill: record whom each channel would have reached; send nothing."""
    consignee = notice.consignee
    targets: list[tuple[str, str]] = []
    if DeliveryChannel.PORTAL in wanted:
        targets.append((DeliveryChannel.PORTAL, consignee.name))
    if DeliveryChannel.EMAIL in wanted:
        targets.append((DeliveryChannel.EMAIL, (consignee.contact_email or "").strip()))
    if DeliveryChannel.WEBHOOK in wanted:
        for sub in webhooks.subscriptions_for(party=consignee, event=EVENT):
            targets.append((DeliveryChannel.WEBHOOK, sub.url))
    rows = []
    for channel, recipient in targets:
        if _delivered(notice, channel, recipient[:500]):
            continue
        rows.append(
            _create(
                notice,
                user,
                channel=channel,
                status=DeliveryStatus.SIMULATED,
                recipient=recipient[:500],
                detail=_("drill: nothing was sent")
                if recipient
                else _("drill: nothing was sent (and there is no address to send to)"),
            )
        )
    return rows


# Attempts (after commit, or from a worker) -----------------------------------------------------


class DeliveryFailed(Exception):
    """The attempt failed; the outbox retries it with backoff (a new attempt row each time)."""


def _attempt_row(delivery_id: int, user: User | None) -> NoticeDelivery | None:
    """The row to attempt for the outbox message of ``delivery_id``: that row while it is
    still queued; after a failed attempt (or one whose worker died), a new queued row for the
    same target; None once the target has been reached."""
    first = NoticeDelivery.objects.select_related("notice").get(pk=delivery_id)
    notice, channel, recipient = first.notice, first.channel, first.recipient
    if _delivered(notice, channel, recipient):
        return None
    queued = _queued(notice, channel, recipient)
    if queued is not None:
        return queued
    with transaction.atomic():
        return _create(
            notice,
            user,
            channel=channel,
            status=DeliveryStatus.FAILED,
            recipient=recipient,
            detail=QUEUED,
        )


def _outcome(row: NoticeDelivery) -> str:
    if row.status != DeliveryStatus.SENT:
        raise DeliveryFailed(row.detail)
    return row.detail


def _payload_user(message: OutboxMessage) -> User | None:
    user_id = message.payload.get("user_id")
    return User.objects.filter(pk=user_id).first() if user_id is not None else None


@outbox.handler("recall.email")
def _email_handler(message: OutboxMessage) -> str:
    user = _payload_user(message)
    row = _attempt_row(message.payload["delivery_id"], user)
    if row is None:
        return _("already delivered")
    return _outcome(email_attempt(delivery_id=row.pk, user=user))


@outbox.handler("recall.webhook")
def _webhook_handler(message: OutboxMessage) -> str:
    user = _payload_user(message)
    sub = WebhookSubscription.objects.filter(pk=message.payload["subscription_id"]).first()
    if sub is None or not sub.active:
        # Recorded on the delivery row too, so the recall's delivery list says why.
        row = _attempt_row(message.payload["delivery_id"], user)
        if row is not None:
            webhook_attempt(
                delivery_id=row.pk, subscription_id=message.payload["subscription_id"], user=user
            )
        raise outbox.Permanent(_("the webhook subscription was removed or deactivated"))
    row = _attempt_row(message.payload["delivery_id"], user)
    if row is None:
        return _("already delivered")
    return _outcome(webhook_attempt(delivery_id=row.pk, subscription_id=sub.pk, user=user))


def _claim(delivery_id: int) -> tuple[NoticeDelivery, dict[str, Any]] | None:
    """Take a queued row for this attempt (two workers never both send it)."""
    with transaction.atomic():
        row = (
            NoticeDelivery.objects.select_for_update()
            .select_related("notice__campaign", "notice__consignee")
            .filter(pk=delivery_id)
            .first()
        )
        if row is None or row.status != DeliveryStatus.FAILED or row.detail != QUEUED:
            return None
        before = audit.snapshot(row)
        row.detail = f"{ATTEMPTING} since {now().isoformat()}"
        row.save(update_fields=["detail"])
    return row, before


def _finish(
    row: NoticeDelivery, before: dict[str, Any], ok: bool, detail: str, user: User | None
) -> NoticeDelivery:
    with transaction.atomic():
        row.status = DeliveryStatus.SENT if ok else DeliveryStatus.FAILED
        row.detail = detail[:4000]
        row.attempted_at = now()
        row.save(update_fields=["status", "detail", "attempted_at"])
        audit.record_update(row, before, user=user)
    return row


def email_attempt(*, delivery_id: int, user: User | None = None) -> NoticeDelivery:
    """Send the queued e-mail delivery ``delivery_id`` and record what happened."""
    claimed = _claim(delivery_id)
    if claimed is None:
        return NoticeDelivery.objects.get(pk=delivery_id)
    row, before = claimed
    try:
        message = notice_email(row.notice, row.recipient)
        sent = message.send(fail_silently=False)
    except (smtplib.SMTPException, OSError) as exc:
        return _finish(row, before, False, f"{type(exc).__name__}: {exc}", user)
    if not sent:
        return _finish(row, before, False, _("the mail backend accepted no message"), user)
    return _finish(row, before, True, _("handed to %(via)s") % {"via": _mail_route()}, user)


def _mail_route() -> str:
    backend = settings.EMAIL_BACKEND.rsplit(".", 2)[-2]
    if backend == "smtp":
        return f"SMTP {settings.EMAIL_HOST}:{settings.EMAIL_PORT}"
    return f"the {backend} mail backend"


def notice_email(notice: RecallNotice, address: str) -> EmailMessage:
    """The e-mail of a notice, in its language, with the notice PDF attached."""
    campaign = notice.campaign
    with translation.override(notice.language or "en"):
        maker = doc.maker(campaign)
        count = AffectedUnit.objects.filter(notice=notice).count()
        subject = _(
            "URGENT medical device recall %(recall)s: notice %(notice)s for %(consignee)s"
        ) % {"recall": campaign.number, "notice": notice.number, "consignee": notice.consignee}
        if notice.drill:
            subject = _("[DRILL] ") + subject
        body = "\n".join(
            [
                _("To %(consignee)s,") % {"consignee": notice.consignee.name},
                "",
                _("%(maker)s recalls the devices named in the attached notice %(notice)s.")
                % {"maker": maker.name if maker else "", "notice": notice.number},
                "",
                _("Recall: %(number)s %(title)s")
                % {"number": campaign.number, "title": campaign.title},
                _("Reason: %(reason)s") % {"reason": campaign.reason},
                _("Classification: %(c)s") % {"c": doc.classification(campaign)},
                _("Hazard: %(h)s") % {"h": doc.hazard(campaign)},
                _("Your affected units: %(n)s (listed in the attached PDF)") % {"n": count},
                _("Acknowledge by: %(when)s") % {"when": doc.when(notice.deadline_at) or "—"},
                "",
                _("Acknowledge and report each unit in the partner portal: %(url)s")
                % {"url": doc.absolute(doc.portal_path(notice.number))},
                _("or through the API: %(api)s") % {"api": doc.acknowledge_api(notice.number)},
                "",
                doc.contact(maker) or (maker.name if maker else ""),
            ]
        )
        message = EmailMessage(
            subject=subject,
            body=body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[address],
            reply_to=[maker.contact_email] if maker and maker.contact_email else None,
            headers={"X-Medtrace-Notice": notice.number},
        )
        message.attach(f"{notice.number}.pdf", notice_pdf(notice), "application/pdf")
    return message


def idempotency_key(notice: RecallNotice, subscription: WebhookSubscription) -> str:
    return f"{notice.number}:webhook:{subscription.pk}"


def webhook_payload(notice: RecallNotice, key: str) -> dict[str, Any]:
    """The JSON a consignee's system receives: the notice and its own units (no patient data)."""
    campaign = notice.campaign
    units = doc.notice_units(notice)
    places = doc.location_names(u.location for u in units)
    return {
        "event": EVENT,
        "id": key,
        "notice": notice.number,
        "drill": notice.drill,
        "language": notice.language,
        "campaign": {
            "number": campaign.number,
            "title": campaign.title,
            "reason": campaign.reason,
            "cn_level": campaign.cn_level,
            "fda_class": campaign.fda_class or None,
            "eu_fsca": campaign.eu_fsca,
            "depth": campaign.depth,
            "hazard": doc.hazard(campaign),
        },
        "consignee": {"name": notice.consignee.name, "gln": notice.consignee.gln},
        "sent_at": notice.sent_at,
        "deadline": notice.deadline_at,
        "units": [
            {
                "udi": doc.hri(u),
                "epc": u.epc,
                "gtin": u.gtin,
                "lot": u.lot,
                "serial": u.serial,
                "product": doc.product_name(u.product),
                "location": places.get(u.location, u.location),
            }
            for u in units
        ],
        "acknowledge_url": doc.absolute(doc.portal_path(notice.number)),
        "acknowledge_api": doc.acknowledge_api(notice.number),
        "pdf": f"/api/v1/recall-notices/{notice.number}/pdf",
    }


def webhook_attempt(
    *, delivery_id: int, subscription_id: int, user: User | None = None
) -> NoticeDelivery:
    """POST the queued webhook delivery ``delivery_id`` and record what happened."""
    claimed = _claim(delivery_id)
    if claimed is None:
        return NoticeDelivery.objects.get(pk=delivery_id)
    row, before = claimed
    sub = WebhookSubscription.objects.filter(pk=subscription_id).first()
    if sub is None or not sub.active:
        return _finish(
            row, before, False, _("the webhook subscription was removed or deactivated"), user
        )
    key = idempotency_key(row.notice, sub)
    result = webhooks.post(
        subscription=sub, event=EVENT, payload=webhook_payload(row.notice, key), idempotency_key=key
    )
    detail = _("subscription %(id)s: %(result)s") % {"id": sub.pk, "result": result.detail}
    return _finish(row, before, result.ok, detail, user)
