from __future__ import annotations

import pytest
from django.test import Client

from medtrace.masterdata.models import Party

pytestmark = pytest.mark.django_db


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


def test_an_auditor_sees_master_data_in_the_admin_but_cannot_change_it(db: None) -> None:
    import io

    from django.core.management import call_command

    call_command("demo", stdout=io.StringIO())
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


def test_a_partner_user_cannot_open_the_admin(db: None) -> None:
    import io

    from django.core.management import call_command

    call_command("demo", stdout=io.StringIO())
    client = Client()
    assert client.login(username="hospital_a", password="medtrace-demo")

    response = client.get("/admin/")

    assert response.status_code == 302
