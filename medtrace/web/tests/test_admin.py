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
