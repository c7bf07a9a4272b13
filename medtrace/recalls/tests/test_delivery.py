"""Delivering recall notices: e-mail through a real SMTP server (aiosmtpd on 127.0.0.1),
webhooks to a real HTTP server that verifies the signature, the partner portal, failures,
retries and drills."""

from __future__ import annotations

import email
import email.policy
import io
import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from django.db import transaction
from pypdf import PdfReader

from medtrace.alerts import webhooks
from medtrace.alerts.tests.receiver import Receiver, webhook_receiver
from medtrace.errors import Conflict
from medtrace.masterdata.models import Party
from medtrace.recalls import delivery, services
from medtrace.recalls.delivery import deliver_notice
from medtrace.recalls.models import (
    DeliveryChannel,
    DeliveryStatus,
    NoticeDelivery,
    NoticeStatus,
    RecallCampaign,
    RecallNotice,
)

from .factories import R

pytestmark = pytest.mark.django_db

ADDRESS_A = "recall@hospital-a.example"
ADDRESS_B = "qa@hospital-b.example"


# A real SMTP server ----------------------------------------------------------------------------


@dataclass
class Mailbox:
    messages: list[Message] = field(default_factory=list)
    recipients: list[list[str]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(
            email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        )
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp(settings: Any) -> Iterator[Mailbox]:
    """An SMTP server on 127.0.0.1 and Django's SMTP backend pointed at it."""
    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.DEFAULT_FROM_EMAIL = "recalls@maker.example"
    try:
        yield box
    finally:
        controller.stop()


# The recall ------------------------------------------------------------------------------------


def lot_udi(r: R, lot: str) -> str:
    return f"(01){r.w.gtin(r.w.device)}(10){lot}"


def with_email(party: Party, address: str) -> None:
    Party.objects.filter(pk=party.pk).update(contact_email=address)


def approved_recall(r: R, *, drill: bool = False) -> tuple[RecallCampaign, dict[str, RecallNotice]]:
    """Lot LOT-W: two units at hospital A, one at hospital B; notices created, not sent."""
    r.at(r.w.hospital, "WA-1", "WA-2", lot="LOT-W")
    r.at(r.hospital_b, "WB-1", lot="LOT-W")
    campaign = r.approved(r.open(kind="lot", lot=lot_udi(r, "LOT-W"), drill=drill))
    notices = services.recall_notices_create(campaign=campaign, user=r.qa)
    by_party = {n.consignee_id: n for n in notices}
    return campaign, {"a": by_party[r.w.hospital.pk], "b": by_party[r.hospital_b.pk]}


def send(r: R, campaign: RecallCampaign, capture: Any) -> None:
    """Send the notices and run what waits for the commit (the deliveries)."""
    with capture(execute=True):
        services.recall_notices_send(campaign=campaign, user=r.qa)


def rows(notice: RecallNotice, channel: str | None = None) -> list[NoticeDelivery]:
    qs = NoticeDelivery.objects.filter(notice=notice).order_by("id")
    return list(qs.filter(channel=channel) if channel else qs)


def subscribe(admin: Any, party: Party, receiver: Receiver, events: list[str]) -> Any:
    sub, secret = webhooks.webhook_subscription_create(
        url=receiver.url, event_types=events, party=party, user=admin
    )
    receiver.secrets.append(secret)
    return sub


def pdf_text(data: bytes) -> str:
    return "".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages)


# E-mail ----------------------------------------------------------------------------------------


def test_sending_notices_emails_each_consignee_its_pdf_through_a_real_smtp_server(
    r: R, smtp: Mailbox, django_capture_on_commit_callbacks: Any
) -> None:
    with_email(r.w.hospital, ADDRESS_A)
    with_email(r.hospital_b, ADDRESS_B)
    campaign, notices = approved_recall(r)

    send(r, campaign, django_capture_on_commit_callbacks)

    assert sorted(smtp.recipients) == sorted([[ADDRESS_A], [ADDRESS_B]])
    by_to = {m["To"]: m for m in smtp.messages}
    message = by_to[ADDRESS_A]
    assert notices["a"].number in message["Subject"]
    assert message["X-Medtrace-Notice"] == notices["a"].number
    (attachment,) = [p for p in message.walk() if p.get_content_type() == "application/pdf"]
    assert attachment.get_filename() == f"{notices['a'].number}.pdf"
    content = attachment.get_payload(decode=True)
    assert isinstance(content, bytes)
    text = pdf_text(content).replace("\n", "")
    assert "WA-1" in text and "WA-2" in text and "WB-1" not in text
    (row,) = rows(notices["a"], DeliveryChannel.EMAIL)
    assert row.status == DeliveryStatus.SENT and row.recipient == ADDRESS_A
    assert row.detail.startswith("handed to SMTP 127.0.0.1:")
    (portal,) = rows(notices["a"], DeliveryChannel.PORTAL)
    assert portal.status == DeliveryStatus.SENT


def test_an_english_notice_is_emailed_with_an_english_subject(
    r: R, smtp: Mailbox, django_capture_on_commit_callbacks: Any
) -> None:
    with_email(r.w.hospital, ADDRESS_A)
    campaign, notices = approved_recall(r)
    RecallNotice.objects.filter(pk=notices["a"].pk).update(language="en")

    send(r, campaign, django_capture_on_commit_callbacks)

    (message,) = smtp.messages
    assert message["Subject"].strip().startswith("URGENT medical device recall")


def test_a_consignee_without_an_email_address_gets_a_failed_email_row_and_the_portal(
    r: R, smtp: Mailbox, django_capture_on_commit_callbacks: Any
) -> None:
    campaign, notices = approved_recall(r)

    send(r, campaign, django_capture_on_commit_callbacks)

    assert smtp.messages == []
    (row,) = rows(notices["a"], DeliveryChannel.EMAIL)
    assert row.status == DeliveryStatus.FAILED and "no contact e-mail" in row.detail
    assert rows(notices["a"], DeliveryChannel.PORTAL)[0].status == DeliveryStatus.SENT
    assert RecallNotice.objects.get(pk=notices["a"].pk).status == NoticeStatus.SENT


def test_a_mail_server_that_is_down_is_a_failed_row_and_a_retry_sends_it(
    r: R, smtp: Mailbox, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with_email(r.w.hospital, ADDRESS_A)
    campaign, notices = approved_recall(r)
    working = settings.EMAIL_PORT
    settings.EMAIL_PORT = free_port()  # nothing listens there

    send(r, campaign, django_capture_on_commit_callbacks)

    (failed,) = rows(notices["a"], DeliveryChannel.EMAIL)
    assert failed.status == DeliveryStatus.FAILED and "Connection" in failed.detail
    settings.EMAIL_PORT = working
    with django_capture_on_commit_callbacks(execute=True):
        deliver_notice(notice=notices["a"], user=r.qa)
    failed_again, sent = rows(notices["a"], DeliveryChannel.EMAIL)
    assert failed_again.pk == failed.pk and sent.status == DeliveryStatus.SENT
    assert len(smtp.messages) == 1
    assert len(rows(notices["a"], DeliveryChannel.PORTAL)) == 1  # the portal row once
    with django_capture_on_commit_callbacks(execute=True):
        again = deliver_notice(notice=notices["a"], user=r.qa)
    assert again == [] and len(smtp.messages) == 1  # delivered: nothing more to do


# Webhooks --------------------------------------------------------------------------------------


def test_the_webhook_reaches_a_real_server_that_verifies_signature_and_timestamp(
    r: R, admin_user: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with webhook_receiver() as receiver:
        sub = subscribe(admin_user, r.w.hospital, receiver, ["recall.notice"])
        campaign, notices = approved_recall(r)

        send(r, campaign, django_capture_on_commit_callbacks)

    (got,) = receiver.requests  # hospital B has no subscription
    assert got.verified
    notice = notices["a"]
    assert got.headers["X-Medtrace-Event"] == "recall.notice"
    assert got.headers["Idempotency-Key"] == f"{notice.number}:webhook:{sub.pk}"
    body = got.json
    assert body["event"] == "recall.notice" and body["notice"] == notice.number
    assert body["id"] == got.headers["Idempotency-Key"]
    assert body["campaign"]["number"] == campaign.number
    assert body["deadline"] and body["acknowledge_url"].endswith(
        f"/recalls/portal/notices/{notice.number}/"
    )
    assert sorted(u["serial"] for u in body["units"]) == ["WA-1", "WA-2"]
    assert all(u["udi"].startswith("(01)") for u in body["units"])
    (row,) = rows(notice, DeliveryChannel.WEBHOOK)
    assert row.status == DeliveryStatus.SENT and row.recipient == receiver.url
    assert "HTTP 200" in row.detail


def test_the_receiver_refuses_a_tampered_body_and_a_replayed_old_message(
    r: R, admin_user: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with webhook_receiver() as receiver:
        subscribe(admin_user, r.w.hospital, receiver, ["*"])
        campaign, _notices = approved_recall(r)
        send(r, campaign, django_capture_on_commit_callbacks)
        # "*" also brings the hospital's shipment events: the notice is the one under test.
        (original,) = [
            q for q in receiver.requests if q.headers.get(webhooks.EVENT_HEADER) == "recall.notice"
        ]
        headers = {
            k: v
            for k, v in original.headers.items()
            if k.lower().startswith(("x-medtrace", "idem"))
        }

        def post(body: bytes, extra: dict[str, str] | None = None) -> int:
            request = urllib.request.Request(
                receiver.url, data=body, method="POST", headers={**headers, **(extra or {})}
            )
            try:
                with urllib.request.urlopen(request, timeout=5) as response:
                    return int(response.status)
            except urllib.error.HTTPError as exc:
                return exc.code

        tampered = json.loads(original.body)
        tampered["units"] = tampered["units"][:1]
        status_tampered = post(json.dumps(tampered).encode())
        # A replay: the captured request, signed correctly, ten minutes after it was made.
        old = str(int(time.time()) - 600)
        replayed = {
            "X-Medtrace-Timestamp": old,
            "X-Medtrace-Signature": webhooks.sign(receiver.secrets[0], old, original.body),
        }
        status_replayed = post(original.body, replayed)
        status_same = post(original.body)

    assert original.verified
    assert status_tampered == 401 and status_replayed == 401
    assert status_same == 200  # within the tolerance; the Idempotency-Key lets it be dropped


def test_a_failed_webhook_is_recorded_failed_the_notice_stays_and_a_retry_delivers_it(
    r: R, admin_user: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with webhook_receiver("a-secret-the-sender-does-not-have") as receiver:
        sub, secret = webhooks.webhook_subscription_create(
            url=receiver.url, event_types=["recall.notice"], party=r.w.hospital, user=admin_user
        )
        campaign, notices = approved_recall(r)

        send(r, campaign, django_capture_on_commit_callbacks)

        (failed,) = rows(notices["a"], DeliveryChannel.WEBHOOK)
        assert failed.status == DeliveryStatus.FAILED and "HTTP 401" in failed.detail
        assert RecallNotice.objects.get(pk=notices["a"].pk).status == NoticeStatus.SENT
        assert rows(notices["a"], DeliveryChannel.PORTAL)[0].status == DeliveryStatus.SENT

        receiver.secrets.append(secret)  # the partner fixes its configuration
        with django_capture_on_commit_callbacks(execute=True):
            retried = deliver_notice(notice=notices["a"], user=r.qa, channels=["webhook"])

    (row,) = [x for x in retried if x.channel == DeliveryChannel.WEBHOOK]
    row.refresh_from_db()  # the attempt ran after the (captured) commit
    assert row.pk != failed.pk and row.status == DeliveryStatus.SENT
    first, second = receiver.requests
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"]
    assert second.verified and sub.pk


def test_an_unreachable_webhook_is_a_failed_row_not_an_error(
    r: R, admin_user: Any, django_capture_on_commit_callbacks: Any
) -> None:
    webhooks.webhook_subscription_create(
        url=f"http://127.0.0.1:{free_port()}/hook",
        event_types=["recall.notice"],
        party=r.w.hospital,
        user=admin_user,
    )
    campaign, notices = approved_recall(r)

    send(r, campaign, django_capture_on_commit_callbacks)

    (row,) = rows(notices["a"], DeliveryChannel.WEBHOOK)
    assert row.status == DeliveryStatus.FAILED and "no answer from" in row.detail


# After the commit, drills, refusals -----------------------------------------------------------


def test_nothing_is_sent_before_the_transaction_commits_and_nothing_if_it_rolls_back(
    r: R, smtp: Mailbox, admin_user: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with_email(r.w.hospital, ADDRESS_A)
    with webhook_receiver() as receiver:
        subscribe(admin_user, r.w.hospital, receiver, ["recall.notice"])
        campaign, notices = approved_recall(r)
        RecallNotice.objects.filter(campaign=campaign).update(status=NoticeStatus.SENT)

        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            queued = deliver_notice(notice=notices["a"], user=r.qa)
        by_channel = {row.channel: row for row in queued}
        assert by_channel["email"].detail == delivery.QUEUED
        assert by_channel["webhook"].detail == delivery.QUEUED
        assert len(callbacks) == 2 and smtp.messages == [] and receiver.requests == []

        with pytest.raises(RuntimeError), transaction.atomic():
            deliver_notice(notice=notices["b"], user=r.qa)
            raise RuntimeError("rolled back")
        assert rows(notices["b"]) == []

        for callback in callbacks:
            callback()
    assert len(smtp.messages) == 1 and len(receiver.requests) == 1
    assert {row.status for row in rows(notices["a"])} == {DeliveryStatus.SENT}


def test_a_drill_records_every_channel_simulated_and_sends_nothing(
    r: R, smtp: Mailbox, admin_user: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with_email(r.w.hospital, ADDRESS_A)
    with webhook_receiver() as receiver:
        subscribe(admin_user, r.w.hospital, receiver, ["recall.notice"])
        campaign, notices = approved_recall(r, drill=True)
        send(r, campaign, django_capture_on_commit_callbacks)

        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            deliver_notice(notice=notices["a"], user=r.qa)

    assert callbacks == [] and smtp.messages == [] and receiver.requests == []
    delivered = rows(notices["a"])
    assert {row.channel for row in delivered} == {"portal", "email", "webhook"}
    assert {row.status for row in delivered} == {DeliveryStatus.SIMULATED}
    email_row = next(row for row in delivered if row.channel == "email")
    assert email_row.recipient == ADDRESS_A and "drill" in email_row.detail


def test_a_draft_notice_is_not_delivered(r: R) -> None:
    _campaign, notices = approved_recall(r)

    with pytest.raises(Conflict, match="send it first"):
        deliver_notice(notice=notices["a"], user=r.qa)


def test_an_attempt_on_a_row_already_attempted_sends_nothing_again(
    r: R, smtp: Mailbox, django_capture_on_commit_callbacks: Any
) -> None:
    with_email(r.w.hospital, ADDRESS_A)
    campaign, notices = approved_recall(r)
    send(r, campaign, django_capture_on_commit_callbacks)
    (row,) = rows(notices["a"], DeliveryChannel.EMAIL)

    again = delivery.email_attempt(delivery_id=row.pk)

    assert again.status == DeliveryStatus.SENT and len(smtp.messages) == 1
