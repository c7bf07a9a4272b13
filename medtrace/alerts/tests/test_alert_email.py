"""A fired alert reaches its recipients by e-mail through a real SMTP server (aiosmtpd on
127.0.0.1) once the outbox dispatches - never before its transaction commits."""

from __future__ import annotations

import email
import email.policy
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from django.contrib.auth.models import Group
from django.db import transaction

from medtrace.accounts.models import User
from medtrace.alerts import outbox, rules
from medtrace.alerts.models import AlertRule, OutboxMessage, OutboxStatus

pytestmark = pytest.mark.django_db


@dataclass
class Mailbox:
    messages: list[EmailMessage] = field(default_factory=list)
    recipients: list[list[str]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp(settings: Any) -> Iterator[Mailbox]:
    box = Mailbox()
    port = _free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.DEFAULT_FROM_EMAIL = "alerts@maker.example"
    settings.PUBLIC_URL = "https://trace.maker.example"
    try:
        yield box
    finally:
        controller.stop()


def _qa(username: str, address: str) -> User:
    user = User.objects.create_user(username, password="pw-Long-enough-1", email=address)
    user.groups.add(Group.objects.get(name="qa_ra"))
    return user


def test_a_fired_alert_is_emailed_to_each_recipient_after_the_outbox_dispatches(
    smtp: Mailbox,
) -> None:
    _qa("qa_1", "qa1@maker.example")
    _qa("qa_2", "qa2@maker.example")
    _qa("qa_3", "")  # no address: the inbox only
    with transaction.atomic():
        alert = rules.fire(
            "duplicate_scan",
            dedupe_key="unit:S1",
            title="Unit S1 scanned at Shenzhen and Shanghai within 4 minutes",
            message="Suspected duplicate or counterfeit serial.",
        )
    assert alert is not None
    assert smtp.messages == []  # queued, not sent: the worker sends it

    sent = outbox.dispatch_due(worker_id="test-worker")

    assert sent >= 2
    assert sorted(smtp.recipients) == [["qa1@maker.example"], ["qa2@maker.example"]]
    mail = smtp.messages[0]
    assert "Unit S1 scanned at Shenzhen and Shanghai" in str(mail["Subject"])
    assert mail["From"] == "alerts@maker.example"
    body = mail.get_content()
    assert "Suspected duplicate or counterfeit serial." in body
    assert f"https://trace.maker.example/alerts/{alert.pk}/" in body
    keys = {m["X-Medtrace-Idempotency-Key"] for m in smtp.messages}
    assert keys == {
        f"alert:{alert.pk}:email:{u.pk}" for u in User.objects.filter(username__in=["qa_1", "qa_2"])
    }
    assert set(OutboxMessage.objects.filter(handler="email").values_list("status", flat=True)) == {
        OutboxStatus.DELIVERED
    }


def test_a_committed_alert_is_sent_by_the_after_commit_dispatch(
    smtp: Mailbox, django_capture_on_commit_callbacks: Any
) -> None:
    _qa("qa_1", "qa1@maker.example")
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        rules.fire("audit_chain_failed", dedupe_key="chain:1", title="Audit chain broken")
    assert smtp.recipients == [["qa1@maker.example"]]


def test_with_email_off_only_the_inbox_gets_it(smtp: Mailbox) -> None:
    _qa("qa_1", "qa1@maker.example")
    rules.rule("duplicate_scan")  # seeded again if a transactional test emptied the table
    assert AlertRule.objects.filter(kind="duplicate_scan").update(email=False) == 1
    assert rules.fire("duplicate_scan", dedupe_key="unit:S2", title="Scanned twice") is not None
    outbox.dispatch_due(worker_id="test-worker")
    assert smtp.messages == []
