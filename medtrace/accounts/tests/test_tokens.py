"""API tokens: scopes, expiry, last use, revocation, audit, and `medtrace tokens`."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from medtrace.accounts.models import ApiToken
from medtrace.accounts.services import (
    PARTNER_SCOPES,
    token_authenticate,
    token_create,
    token_revoke,
)
from medtrace.audit.models import AuditEntry
from medtrace.errors import ValidationFailed

pytestmark = pytest.mark.django_db


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def _token_entries() -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action="token").order_by("seq"))


def test_creating_a_token_is_audited_without_the_secret_or_its_hash(qa_manager: Any) -> None:
    token, raw = token_create(
        user=qa_manager, scopes=["trace:read"], days=7, name="MES", actor=qa_manager
    )

    [entry] = _token_entries()
    assert entry.object_type == "accounts.apitoken" and entry.object_id == str(token.pk)
    assert entry.actor == qa_manager
    assert entry.changes["event"] == "created"
    assert entry.changes["prefix"] == token.prefix and entry.changes["owner"] == "qa_manager"
    assert entry.changes["scopes"] == ["trace:read"] and entry.changes["name"] == "MES"
    text = json.dumps(entry.changes) + entry.object_repr
    assert raw not in text and token.token_hash not in text
    assert raw[10:20] not in text


def test_revoking_is_audited_once_and_a_second_revoke_changes_nothing(qa_manager: Any) -> None:
    token, raw = token_create(user=qa_manager, scopes=["trace:read"])

    assert token_revoke(token=token, actor=qa_manager) is True
    assert token_revoke(token=token, actor=qa_manager) is False

    events = [e.changes["event"] for e in _token_entries()]
    assert events == ["created", "revoked"]
    assert token_authenticate(raw) is None


def test_an_expired_token_no_longer_authenticates(qa_manager: Any) -> None:
    token, raw = token_create(user=qa_manager, scopes=["trace:read"], days=1)
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    assert token_authenticate(raw) is None
    response = Client(HTTP_AUTHORIZATION=f"Bearer {raw}").get("/api/v1/products")
    assert response.status_code == 401


def test_a_token_of_a_deactivated_user_no_longer_authenticates(qa_manager: Any) -> None:
    _token, raw = token_create(user=qa_manager, scopes=["trace:read"])
    qa_manager.is_active = False
    qa_manager.save()

    assert token_authenticate(raw) is None


def test_use_records_last_used_at_at_most_once_a_minute(qa_manager: Any) -> None:
    token, raw = token_create(user=qa_manager, scopes=["masterdata:read"])
    assert token.last_used_at is None
    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")

    assert client.get("/api/v1/products").status_code == 200
    first = ApiToken.objects.get(pk=token.pk).last_used_at
    assert first is not None and timezone.now() - first < timedelta(seconds=5)

    client.get("/api/v1/products")
    assert ApiToken.objects.get(pk=token.pk).last_used_at == first  # within the minute

    earlier = timezone.now() - timedelta(minutes=2)
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=earlier)
    client.get("/api/v1/products")
    assert ApiToken.objects.get(pk=token.pk).last_used_at > earlier  # type: ignore[operator]


def test_epcis_use_records_last_used_at_too(qa_manager: Any) -> None:
    token, raw = token_create(user=qa_manager, scopes=["epcis:query"])

    Client(HTTP_AUTHORIZATION=f"Bearer {raw}").get("/epcis/eventTypes")

    assert ApiToken.objects.get(pk=token.pk).last_used_at is not None


def test_a_partner_token_carries_only_partner_scopes(hospital_a: Any) -> None:
    token, _raw = token_create(user=hospital_a, scopes=["trace:read", "epcis:query"])
    assert token.scopes == ["epcis:query", "trace:read"]

    with pytest.raises(ValidationFailed, match="partner user's token cannot carry the scope"):
        token_create(user=hospital_a, scopes=["epcis:capture"])
    with pytest.raises(ValidationFailed, match="partner"):
        token_create(user=hospital_a, scopes=["masterdata:write"])


def test_create_token_for_a_partner_defaults_to_the_partner_scopes(hospital_a: Any) -> None:
    raw = _run("create_token", "hospital_a").strip()

    token = token_authenticate(raw)
    assert token is not None and set(token.scopes) == PARTNER_SCOPES


def test_create_token_from_the_command_line_is_audited_as_cli(qa_manager: Any) -> None:
    _run("create_token", "qa_manager", "--scope", "trace:read", "--name", "line 3")

    [entry] = _token_entries()
    assert entry.changes["event"] == "created" and entry.changes["name"] == "line 3"
    assert entry.actor is None


def test_a_token_needs_at_least_one_scope(qa_manager: Any) -> None:
    with pytest.raises(ValidationFailed, match="at least one scope"):
        token_create(user=qa_manager, scopes=[])


# -- medtrace tokens list / revoke ---------------------------------------------------------------


def test_tokens_list_shows_usable_tokens_of_everyone_without_secrets(
    qa_manager: Any, hospital_a: Any
) -> None:
    mine, raw = token_create(user=qa_manager, scopes=["trace:read"], name="MES")
    theirs, _ = token_create(user=hospital_a, scopes=["recall:ack"], name="ERP")
    gone, _ = token_create(user=qa_manager, scopes=["trace:read"], name="old")
    token_revoke(token=gone)

    out = _run("tokens", "list")

    assert mine.prefix in out and theirs.prefix in out and gone.prefix not in out
    assert "qa_manager" in out and "hospital_a" in out and "MES" in out and "ERP" in out
    assert raw not in out and mine.token_hash not in out


def test_tokens_list_filters_by_user_and_all_includes_revoked_and_expired(
    qa_manager: Any, hospital_a: Any
) -> None:
    live, _ = token_create(user=qa_manager, scopes=["trace:read"])
    gone, _ = token_create(user=qa_manager, scopes=["trace:read"])
    token_revoke(token=gone)
    old, _ = token_create(user=qa_manager, scopes=["trace:read"])
    ApiToken.objects.filter(pk=old.pk).update(expires_at=timezone.now() - timedelta(days=1))
    other, _ = token_create(user=hospital_a, scopes=["trace:read"])

    out = _run("tokens", "list", "--user", "qa_manager", "--all")

    assert live.prefix in out and gone.prefix in out and old.prefix in out
    assert other.prefix not in out
    assert "revoked" in out and "expired" in out and "active" in out

    rows = json.loads(_run("tokens", "list", "--user", "qa_manager", "--json"))
    assert [r["prefix"] for r in rows] == [live.prefix]
    assert set(rows[0]) >= {"id", "scopes", "expires_at", "last_used_at", "revoked_at"}


def test_tokens_list_refuses_an_unknown_user(db: None) -> None:
    with pytest.raises(CommandError, match="No user named 'nobody'"):
        _run("tokens", "list", "--user", "nobody")


@pytest.mark.parametrize("ref", ["id", "prefix", "secret"])
def test_tokens_revoke_by_id_prefix_or_secret_is_audited(qa_manager: Any, ref: str) -> None:
    token, raw = token_create(user=qa_manager, scopes=["trace:read"])
    arg = {"id": str(token.pk), "prefix": token.prefix, "secret": raw}[ref]

    out = _run("tokens", "revoke", arg)

    assert f"Revoked token {token.pk}" in out
    assert token_authenticate(raw) is None
    entry = _token_entries()[-1]
    assert entry.changes["event"] == "revoked" and entry.object_id == str(token.pk)
    assert "already revoked" in _run("tokens", "revoke", arg)
    assert len(_token_entries()) == 2


def test_tokens_revoke_refuses_an_unknown_or_ambiguous_reference(qa_manager: Any) -> None:
    a, _ = token_create(user=qa_manager, scopes=["trace:read"])
    b, _ = token_create(user=qa_manager, scopes=["trace:read"])
    ApiToken.objects.filter(pk=b.pk).update(prefix=a.prefix)

    with pytest.raises(CommandError, match="No token"):
        _run("tokens", "revoke", "mt_nothere")
    with pytest.raises(CommandError, match="Several tokens"):
        _run("tokens", "revoke", a.prefix)
    assert ApiToken.objects.filter(revoked_at__isnull=False).count() == 0
