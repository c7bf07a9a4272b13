"""The partner portal (/portal/): a hospital sees its own devices, incoming shipments, recall
notices and complaints, and nothing of another hospital's, on the page or by guessing URLs; staff
have no portal; a partner's home page is the portal and its menu holds no staff entries."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from medtrace.complaints.intake import complaint_create
from medtrace.distribution.models import Shipment
from medtrace.recalls.tests.factories import R, recall_world
from medtrace.recalls.tests.test_views import notified_recall

pytestmark = pytest.mark.django_db

STAFF_MENU = ("/procurement/", "/production/", "/quality/", "/warehouse/", "/imports/")


@pytest.fixture
def r(db: None) -> R:
    return recall_world()


def signed_in(u: Any) -> Client:
    client = Client()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    client.force_login(u)
    return client


def text(response: Any) -> str:
    return str(response.content.decode())


def test_each_hospital_sees_only_its_own_in_the_portal(r: R) -> None:
    _, notices = notified_recall(r)  # A1, A2 at hospital A; B1 at hospital B
    r.in_transit(r.w.hospital, "A3", lot="L2")
    r.in_transit(r.hospital_b, "B3", lot="L2")
    udi = f"(01){r.w.gtin(r.w.device)}(21)"
    mine = complaint_create(description="alarm silent", udi=udi + "A1", user=r.d.hospital_user)
    theirs = complaint_create(description="screen dark", udi=udi + "B1", user=r.d.other_user)
    ship_a = Shipment.objects.get(consignee=r.w.hospital, status="in_transit")
    ship_b = Shipment.objects.get(consignee=r.hospital_b, status="in_transit")
    a, b = signed_in(r.d.hospital_user), signed_in(r.d.other_user)

    assert a.get("/")["Location"] == "/portal/"
    page = a.get("/portal/")
    assert page.status_code == 200
    html = text(page)
    notice_a, notice_b = notices[r.w.hospital.name], notices[r.hospital_b.name]
    for own in ("A1", "A2", notice_a.number, ship_a.number, mine.complaint.number):
        assert own in html, own
    for other in ("B1", "B3", notice_b.number, ship_b.number, theirs.complaint.number):
        assert other not in html, other
    assert f"/recalls/portal/notices/{notice_a.number}/" in html
    assert f"/distribution/incoming/{ship_a.pk}/" in html
    assert "/complaints/new/" in html and "/web/trace/" not in html and "/trace/?id=" in html
    assert not [u for u in STAFF_MENU if f'href="{u}"' in html]

    html_b = text(b.get("/portal/"))
    assert "B1" in html_b and notice_b.number in html_b and ship_b.number in html_b
    for other in ("A1", "A2", notice_a.number, ship_a.number, mine.complaint.number):
        # as a whole word: a CSRF token may hold "A1" by chance
        assert not re.search(rf"(?<![A-Za-z0-9]){re.escape(other)}(?![A-Za-z0-9])", html_b), other
    # guessing hospital A's URLs: 404, as if they did not exist
    for url in (
        f"/recalls/portal/notices/{notice_a.number}/",
        f"/distribution/incoming/{ship_a.pk}/",
        f"/complaints/{mine.complaint.number}/",
    ):
        assert b.get(url).status_code == 404, url


def test_staff_have_no_portal_and_keep_their_home(r: R) -> None:
    qa = signed_in(r.qa)
    assert qa.get("/portal/").status_code == 403
    assert qa.get("/").status_code == 200
    assert signed_in(r.distributor_user).get("/portal/").status_code == 200
