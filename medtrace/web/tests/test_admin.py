from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import transaction
from django.test import Client
from django.utils import translation

from medtrace.masterdata.models import Party

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def demo(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """The demo's master data and logins (the department stories are not needed here), loaded
    once for the module's tests that sign in as its users (they only read) in a transaction
    rolled back at the end; each test runs in a savepoint inside it."""
    from medtrace.masterdata.demo.load import load_demo

    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            with translation.override("en"):
                load_demo(log=lambda _line: None, lifecycle=False)
            yield
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


def test_the_admin_shows_a_field_error_for_a_bad_gln(admin_user) -> None:
    client = Client()
    client.cookies["django_language"] = "en"
    client.force_login(admin_user)

    response = client.post(
        "/admin/masterdata/party/add/",
        {
            "name": "Bad GLN",
            "role": "supplier",
            "gln": "6920101000001",
            "country": "CN",
            "licences-TOTAL_FORMS": "0",
            "licences-INITIAL_FORMS": "0",
            "licences-MIN_NUM_FORMS": "0",
            "licences-MAX_NUM_FORMS": "1000",
        },
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "check digit should be" in errors["gln"][0]
    assert not Party.objects.filter(name="Bad GLN").exists()


def test_an_auditor_sees_master_data_in_the_admin_but_cannot_change_it(demo: None) -> None:
    client = Client()
    client.cookies["django_language"] = "en"
    assert client.login(username="auditor", password="medtrace-demo")
    party = Party.objects.first()
    assert party is not None

    listing = client.get("/admin/masterdata/party/")
    change = client.post(f"/admin/masterdata/party/{party.pk}/change/", {"name": "hacked"})

    assert listing.status_code == 200
    assert change.status_code == 403
    assert Party.objects.get(pk=party.pk).name != "hacked"


def test_a_partner_user_cannot_open_the_admin(demo: None) -> None:
    client = Client()
    assert client.login(username="hospital_a", password="medtrace-demo")

    response = client.get("/admin/")

    assert response.status_code == 302
