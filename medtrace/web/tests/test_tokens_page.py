"""/account/tokens/: people manage their own API tokens."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from medtrace.accounts.models import ApiToken, User
from medtrace.accounts.services import KNOWN_SCOPES, PARTNER_SCOPES, token_create
from medtrace.audit.models import AuditEntry

pytestmark = pytest.mark.django_db

PAGE = "/account/tokens/"


def _client(user: User, **kwargs: Any) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client


def _en(user: User) -> Client:
    client = _client(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def _create(client: Client, **data: Any) -> Any:
    form = {"name": "MES line 3", "scopes": ["trace:read", "epcis:capture"], "days": "30"}
    form.update(data)
    return client.post(PAGE, form)


def _raw(html: str) -> str:
    match = re.search(r'value="(mt_[A-Za-z0-9_-]+)"', html)
    assert match, "the new token is on the page"
    return match.group(1)


def test_the_page_needs_a_signed_in_user(db: None) -> None:
    response = Client().get(PAGE)

    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_the_user_menu_links_to_the_tokens_page(qa_manager: User) -> None:
    html = _client(qa_manager).get("/trace/").content.decode()

    assert f'href="{PAGE}"' in html


def test_creating_a_token_shows_the_secret_once_and_it_works(qa_manager: User) -> None:
    client = _en(qa_manager)

    response = _create(client)

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    html = response.content.decode()
    raw = _raw(html)
    assert "shown only this once" in html
    token = ApiToken.objects.get()
    assert token.user == qa_manager and token.name == "MES line 3"
    assert token.scopes == ["epcis:capture", "trace:read"]
    assert token.expires_at is not None and 29 <= (token.expires_at - token.created_at).days <= 30
    assert token.token_hash != raw and raw not in token.token_hash
    # Listed by prefix, never again in full.
    again = client.get(PAGE).content.decode()
    assert token.prefix in again and raw not in again
    api = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api.get("/epcis/capture").status_code == 200
    entry = AuditEntry.objects.get(action="token")
    assert entry.actor == qa_manager and entry.source == "ui"
    assert raw not in str(entry.changes)


def test_the_list_shows_name_prefix_scopes_dates_and_status(qa_manager: User) -> None:
    live, _ = token_create(user=qa_manager, scopes=["trace:read"], name="scanner")
    gone, _ = token_create(user=qa_manager, scopes=["recall:ack"], name="old erp")
    client = _en(qa_manager)
    client.post(f"/account/tokens/{gone.pk}/revoke/")

    html = client.get(PAGE).content.decode()

    for text in ("scanner", live.prefix, "trace:read", "old erp", gone.prefix, "recall:ack"):
        assert text in html
    assert "revoked" in html and "active" in html
    assert html.count("never") >= 2  # neither was used yet
    assert html.count('action="/account/tokens/') == 1  # only the live one can be revoked


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"scopes": []}, "scopes"),
        ({"scopes": ["everything"]}, "scopes"),
        ({"days": "0"}, "days"),
        ({"days": "366"}, "days"),
        ({"name": ""}, "name"),
    ],
)
def test_a_wrong_form_is_refused_and_creates_nothing(
    qa_manager: User, data: dict[str, Any], field: str
) -> None:
    response = _create(_en(qa_manager), **data)

    assert response.status_code == 422
    assert response.context["form"].errors[field]
    assert 'value="mt_' not in response.content.decode()
    assert not ApiToken.objects.exists()


def test_a_partner_user_is_offered_and_may_hold_only_partner_scopes(hospital_a: User) -> None:
    client = _en(hospital_a)

    offered = {v for v, _label in client.get(PAGE).context["form"].fields["scopes"].choices}
    assert offered == set(PARTNER_SCOPES)

    refused = _create(client, scopes=["epcis:capture"])
    assert refused.status_code == 422 and not ApiToken.objects.exists()

    created = _create(client, scopes=["trace:read", "recall:ack"])
    assert created.status_code == 200
    assert ApiToken.objects.get().scopes == ["recall:ack", "trace:read"]


def test_an_internal_user_is_offered_every_scope(qa_manager: User) -> None:
    form = _en(qa_manager).get(PAGE).context["form"]

    assert {v for v, _label in form.fields["scopes"].choices} == set(KNOWN_SCOPES)


def test_revoking_stops_the_token_and_is_audited(qa_manager: User) -> None:
    token, raw = token_create(user=qa_manager, scopes=["masterdata:read"])
    client = _en(qa_manager)

    response = client.post(f"/account/tokens/{token.pk}/revoke/", follow=True)

    assert response.status_code == 200
    assert "is revoked" in response.content.decode()
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert Client(HTTP_AUTHORIZATION=f"Bearer {raw}").get("/api/v1/products").status_code == 401
    events = list(
        AuditEntry.objects.filter(action="token").values_list("changes__event", flat=True)
    )
    assert events == ["created", "revoked"]


def test_revoke_is_post_only(qa_manager: User) -> None:
    token, _ = token_create(user=qa_manager, scopes=["trace:read"])

    response = _client(qa_manager).get(f"/account/tokens/{token.pk}/revoke/")

    assert response.status_code == 405
    token.refresh_from_db()
    assert token.revoked_at is None


def test_someone_elses_token_is_neither_listed_nor_revocable(
    qa_manager: User, hospital_a: User
) -> None:
    theirs, _raw = token_create(user=hospital_a, scopes=["trace:read"], name="hospital ERP")
    client = _en(qa_manager)

    html = client.get(PAGE).content.decode()
    assert theirs.prefix not in html and "hospital ERP" not in html

    response = client.post(f"/account/tokens/{theirs.pk}/revoke/")
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.revoked_at is None
    assert client.post("/account/tokens/999999/revoke/").status_code == 404


def test_creating_and_revoking_need_the_csrf_token(qa_manager: User) -> None:
    token, _ = token_create(user=qa_manager, scopes=["trace:read"])
    client = _client(qa_manager, enforce_csrf_checks=True)

    assert _create(client).status_code == 403
    assert client.post(f"/account/tokens/{token.pk}/revoke/").status_code == 403
    assert ApiToken.objects.count() == 1
    token.refresh_from_db()
    assert token.revoked_at is None
