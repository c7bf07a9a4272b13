"""The "My work" page (/work/) on a known world: each role sees the alerts addressed to it and
its own queues with the right counts, the administrator and the auditor (read-only) see every
queue, partners are refused, and the page costs the same queries however much is waiting."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from medtrace.alerts.models import Alert
from medtrace.complaints.services import complaint_create
from medtrace.dashboards import work
from medtrace.distribution.tests.factories import user
from medtrace.quality.services import nonconformance_open
from medtrace.recalls.tests.factories import R, recall_world
from medtrace.warehouse.services import pick_list_create

pytestmark = pytest.mark.django_db


@dataclass
class World:
    r: R
    admin: Any
    production: Any
    procurement: Any


@pytest.fixture(scope="module")
def world(django_db_setup: None, django_db_blocker: Any) -> Iterator[World]:
    """Two released units in our (non-storage) site, a third on an open nonconformance with a
    hold, a complaint, a recall opened but not classified, a confirmed sales order, an open
    pick list and an alert for QA/RA. Built once, rolled back at the module's end."""
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            with translation.override("en"):
                r = recall_world()
                r.stock("W1", "W2")
                (bad,) = r.stock("W3")
                nonconformance_open(
                    targets=[bad], title="Scratched housing", description="x", user=r.qa
                )
                complaint_create(
                    description="Alarm did not sound", complainant_name="Dr Li", user=r.qa
                )
                r.open("serials", serials=r.at(r.w.hospital, "W4"))
                r.d.order(2)
                pick_list_create(product=r.w.device, quantity=1, user=r.d.warehouse)
                Alert.objects.create(
                    kind="qc_failure", title="QC failed on W3", recipient_role="qa_ra"
                )
                admin = user("admin_work", role="admin")
                yield World(
                    r=r,
                    admin=admin,
                    production=user("production_work", role="production"),
                    procurement=user("procurement_work", role="procurement"),
                )
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


def _counts(u: Any) -> dict[str, int]:
    return {s.key: s.count for s in work.my_work(user=u).sections}


def _client(u: Any) -> Client:
    client = Client()
    client.force_login(u)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def test_qa_ra_sees_its_alerts_recalls_complaints_nonconformances_and_holds(world: World) -> None:
    counts = _counts(world.r.qa)

    assert counts["alerts"] == 2  # ours, and the one the nonconformance raised
    assert counts["recalls"] == 1  # opened, not classified
    assert counts["complaints"] == 1
    assert counts["nonconformances"] == 1
    assert counts["holds"] == 1
    assert counts["recall_notices"] == 0 and counts["adverse_reports"] == 0
    assert "put_away" not in counts and "orders_to_ship" not in counts


def test_the_warehouse_sees_what_to_put_away_and_pick_but_not_qas_alerts(world: World) -> None:
    counts = _counts(world.r.d.warehouse)

    assert counts["alerts"] == 0
    # W1-W3 released in a site that is no warehouse or bin (W3 is held: it goes to quarantine)
    assert counts["put_away"] == 3
    assert counts["pick_lists"] == 1
    assert counts["to_ship"] == 0
    assert "complaints" not in counts and "recalls" not in counts


def test_sales_production_and_procurement_see_their_own_queues(world: World) -> None:
    sales = _counts(world.r.d.sales)
    assert sales["orders_to_ship"] == 1 and sales["in_transit"] == 0
    assert "put_away" not in sales
    assert set(_counts(world.production)) == {"alerts", "work_orders"}
    assert set(_counts(world.procurement)) >= {"purchase_orders", "incoming_lots", "certificates"}
    service = _counts(world.r.engineer)
    assert {"maintenance", "tickets", "returns"} <= set(service)


def test_the_page_lists_the_first_items_linking_to_where_the_work_is_done(world: World) -> None:
    html = _client(world.r.qa).get("/work/").content.decode()

    section = re.search(r'id="queue-nonconformances".*?</section>', html, re.S)
    assert section is not None
    assert "Scratched housing" in section.group(0)
    assert "/quality/nonconformances/" in section.group(0)
    assert 'data-count="1"' in section.group(0)
    assert "QC failed on W3" in html and "/alerts/" in html


def test_the_administrator_and_the_auditor_see_every_queue_the_auditor_read_only(
    world: World,
) -> None:
    from medtrace.dashboards.work_sections import SECTIONS

    every = {"alerts", *(key for key, _roles, _build in SECTIONS)}
    assert set(_counts(world.admin)) == every
    audit = work.my_work(user=world.r.auditor)
    assert {s.key for s in audit.sections} == every and audit.read_only

    page = _client(world.r.auditor).get("/work/")
    main = page.content.decode().split("<main>")[1]
    assert page.status_code == 200 and 'method="post"' not in main
    assert "read-only" in main


def test_partners_have_no_work_page(world: World) -> None:
    for partner in (world.r.d.hospital_user, world.r.distributor_user):
        assert _client(partner).get("/work/").status_code == 403
    assert Client().get("/work/").status_code == 302


def test_the_page_costs_the_same_queries_however_much_is_waiting(world: World) -> None:
    browser = _client(world.admin)
    browser.get("/work/")

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert browser.get("/work/").status_code == 200
        return len(ctx.captured_queries)

    before = queries()
    r = world.r
    for i in range(3):
        complaint_create(description=f"more {i}", complainant_name="Dr Li", user=r.qa)
        pick_list_create(product=r.w.device, quantity=1, user=r.d.warehouse)
    r.stock("W5", "W6", "W7")
    after = queries()

    assert before == after
    assert after <= 80
