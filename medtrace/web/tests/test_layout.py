"""The layout: the menu by role (partners see their portal entries only, staff the departments
their permissions open), a skip link then the scan box first in the focus order, landmarks,
every form field labelled, and <html lang> in the language shown."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from medtrace.recalls.tests.factories import R, recall_world

pytestmark = pytest.mark.django_db

# Staff menu entry -> the permission that opens it.
STAFF_MENU = {
    "/procurement/": "procurement.view_purchaseorder",
    "/production/": "production.view_workorder",
    "/quality/": "quality.view_hold",
    "/warehouse/": "warehouse.view_container",
    "/distribution/": "distribution.view_shipment",
    "/service/": "service.view_installedunit",
    "/complaints/": "complaints.view_complaint",
    "/conditions/": "conditions.view_conditionrecord",
    "/recalls/": "recalls.view_recallcampaign",
    "/audit/": "audit.view_auditentry",
}
STAFF_ONLY = ("/work/", "/kpis/", "/alerts/", "/imports/", "/recalls/dashboard/")


@pytest.fixture
def r(db: None) -> R:
    return recall_world()


def signed_in(u: Any, language: str = "en") -> Client:
    client = Client()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    client.force_login(u)
    return client


class Page(HTMLParser):
    """The parts of a page the checks need: menu links, focusable elements in order, fields
    and their labels, landmarks, the <html lang>."""

    def __init__(self) -> None:
        super().__init__()
        self.lang: str | None = None
        self.nav_links: list[str] = []
        self.focusable: list[dict[str, str | None]] = []
        self.fields: list[dict[str, str | None]] = []
        self.label_for: set[str] = set()
        self.landmarks: set[str] = set()
        self._in_nav = 0
        self._in_label = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "html":
            self.lang = a.get("lang")
        if tag in ("header", "nav", "main"):
            self.landmarks.add(tag)
        if tag == "nav":
            self._in_nav += 1
        if tag == "label":
            self._in_label += 1
            if a.get("for"):
                self.label_for.add(str(a["for"]))
        if tag == "a" and a.get("href"):
            self.focusable.append({"tag": tag, **a})
            if self._in_nav:
                self.nav_links.append(str(a["href"]))
        if tag in ("input", "select", "textarea", "button") and a.get("type") != "hidden":
            self.focusable.append({"tag": tag, **a})
            if tag != "button" and a.get("type") not in ("submit", "button"):
                self.fields.append({"tag": tag, "in_label": "1" if self._in_label else "", **a})

    def handle_endtag(self, tag: str) -> None:
        if tag == "nav":
            self._in_nav -= 1
        if tag == "label":
            self._in_label -= 1


def parse(response: Any) -> Page:
    assert response.status_code == 200, response.status_code
    page = Page()
    page.feed(response.content.decode())
    return page


def test_partners_see_only_their_portal_menu(r: R) -> None:
    hospital = parse(signed_in(r.d.hospital_user).get("/portal/"))
    assert {"/portal/", "/distribution/incoming/", "/recalls/portal/", "/complaints/new/"} <= set(
        hospital.nav_links
    )
    distributor = parse(signed_in(r.distributor_user).get("/portal/"))
    assert {"/portal/", "/distribution/incoming/", "/recalls/portal/"} <= set(distributor.nav_links)
    assert "/complaints/new/" not in distributor.nav_links
    # a hospital's one department entry is its installed base (/service/, scoped to it)
    for page, allowed in ((hospital, {"/service/"}), (distributor, set())):
        shown = set(page.nav_links) & (set(STAFF_MENU) | set(STAFF_ONLY)) - allowed
        assert not shown, shown


@pytest.mark.parametrize("who", ["qa", "auditor", "engineer", "sales", "warehouse"])
def test_staff_see_the_departments_their_permissions_open(r: R, who: str) -> None:
    u = {"qa": r.qa, "auditor": r.auditor, "engineer": r.engineer}.get(who) or getattr(r.d, who)
    page = parse(signed_in(u).get("/"))
    for href, perm in STAFF_MENU.items():
        assert (href in page.nav_links) == u.has_perm(perm), (who, href, perm)
    assert "/portal/" not in page.nav_links and "/work/" in page.nav_links


@pytest.mark.parametrize(
    "url", ["/portal/", "/distribution/incoming/", "/recalls/portal/", "/complaints/new/"]
)
def test_skip_link_scan_box_landmarks_and_labels(r: R, url: str) -> None:
    page = parse(signed_in(r.d.hospital_user).get(url))
    first, second = page.focusable[0], page.focusable[1]
    assert first["tag"] == "a" and first["href"] == "#main"
    assert second.get("id") == "scan-input"
    assert {"header", "nav", "main"} <= page.landmarks
    unlabelled = [
        f
        for f in page.fields
        if not f["in_label"] and not f.get("aria-label") and f.get("id") not in page.label_for
    ]
    assert not unlabelled, unlabelled


def test_html_lang_is_the_language_shown(r: R) -> None:
    zh = signed_in(r.d.hospital_user, "zh-hans").get("/portal/")
    assert parse(zh).lang == "zh-hans" and "跳到主要内容" in zh.content.decode()
    en = signed_in(r.d.hospital_user, "en").get("/portal/")
    assert parse(en).lang == "en" and "Skip to main content" in en.content.decode()
