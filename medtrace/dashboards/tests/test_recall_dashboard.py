"""The recall dashboard (/recalls/dashboard/) on a known world: a recall of two units at hospital
A (Hangzhou) and one at hospital B (Nanjing), approved, notices sent; a drill of one more unit.

It counts notices notified, acknowledged and overdue per campaign and moves as soon as a
hospital acknowledges (nothing cached), counts the clocks down ("3 天 4 小时"), groups the units
by holder and by region, shows the effectiveness checks, takes the same queries for one campaign
or three, and is for our own staff only (the auditor reads it, partners are refused)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from medtrace.dashboards import recall_board
from medtrace.recalls import services
from medtrace.recalls.models import RecallCampaign, RecallNotice
from medtrace.recalls.tests.factories import R, recall_world

pytestmark = pytest.mark.django_db


@dataclass
class World:
    r: R
    campaign: RecallCampaign
    drill: RecallCampaign
    notice_a: RecallNotice
    notice_b: RecallNotice


@pytest.fixture(scope="module")
def world(django_db_setup: None, django_db_blocker: Any) -> Iterator[World]:
    """Built once for the module in a transaction rolled back at its end; each test runs in a
    savepoint inside it."""
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            with translation.override("en"):
                r = recall_world()
                r.w.hospital.province, r.w.hospital.city = "浙江省", "杭州市"
                r.w.hospital.save()
                r.hospital_b.province, r.hospital_b.city = "江苏省", "南京市"
                r.hospital_b.save()
                at_a = r.at(r.w.hospital, "DA1", "DA2")
                at_b = r.at(r.hospital_b, "DB1")
                campaign = r.open("serials", serials=at_a + at_b)
                r.approved(campaign)
                r.notified(campaign)
                drill = r.open("serials", drill=True, serials=r.at(r.w.hospital, "DD1"))
                notices = {n.consignee_id: n for n in campaign.notices.all()}
                yield World(
                    r=r,
                    campaign=campaign,
                    drill=drill,
                    notice_a=notices[r.w.hospital.pk],
                    notice_b=notices[r.hospital_b.pk],
                )
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


def _client(user: Any, language: str = "en") -> Client:
    client = Client()
    client.force_login(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    return client


def _text(response: Any) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def _row(board: recall_board.Board, number: str) -> recall_board.CampaignRow:
    return next(r for r in board.campaigns if r.campaign.number == number)


def _cells(html: str, number: str) -> dict[str, str]:
    row = re.search(rf'<tr data-campaign="{number}">(.*?)</tr>', html, re.S)
    assert row is not None, number
    return {
        m.group(1): re.sub(r"\s+", " ", m.group(2)).strip()
        for m in re.finditer(r'data-figure="(\w+)">(.*?)</td>', row.group(1), re.S)
    }


def test_each_campaign_shows_its_notices_notified_acknowledged_and_overdue(world: World) -> None:
    board = recall_board.recall_board(user=world.r.qa)

    row = _row(board, world.campaign.number)
    assert (row.consignees, row.notified, row.acknowledged, row.overdue) == (2, 2, 0, 0)
    assert row.affected == 3 and row.units == {"pending": 3}
    assert row.next_ack_due == world.notice_a.deadline_at
    drill = _row(board, world.drill.number)
    assert drill.campaign.drill and drill.consignees == 0 and drill.affected == 1
    assert board.totals["campaigns"] == 2 and board.totals["affected"] == 4


def test_the_dashboard_counts_an_acknowledgement_at_the_next_load(world: World) -> None:
    browser = _client(world.r.qa)
    before = _cells(browser.get("/recalls/dashboard/").content.decode(), world.campaign.number)
    assert before["acknowledged"] == "0 / 2"

    hospital = _client(world.r.d.hospital_user)
    answered = hospital.post(
        f"/recalls/portal/notices/{world.notice_a.number}/",
        {"action": "acknowledge", "note": "received"},
    )
    assert answered.status_code == 302

    response = browser.get("/recalls/dashboard/")
    after = _cells(response.content.decode(), world.campaign.number)
    assert after["acknowledged"] == "1 / 2"
    assert "no-cache" in response["Cache-Control"] and "max-age=0" in response["Cache-Control"]


def test_a_notice_past_its_deadline_is_overdue_and_its_clock_says_by_how_much(
    world: World,
) -> None:
    now = timezone.now()
    RecallNotice.objects.filter(pk=world.notice_b.pk).update(
        deadline_at=now - timedelta(hours=5, minutes=10)
    )
    RecallNotice.objects.filter(pk=world.notice_a.pk).update(
        deadline_at=now + timedelta(days=3, hours=4, minutes=30)
    )

    board = recall_board.recall_board(user=world.r.qa)
    row = _row(board, world.campaign.number)
    assert row.overdue == 1 and board.totals["overdue"] == 1
    assert row.next_ack_due is not None and row.next_ack_due > now

    page = _client(world.r.qa, "zh-hans").get("/recalls/dashboard/")
    html = page.content.decode()
    assert _cells(html, world.campaign.number)["overdue"] == "1"
    assert "剩余 3 天 4 小时" in html  # the next acknowledgement deadline, ticking in the page
    assert 'data-due="' in html and "dashboards/countdown.js" in html
    script = re.search(r'<script id="countdown-text" type="application/json">(.*?)</script>', html)
    assert script is not None
    wording = json.loads(script.group(1))  # the script's wording, in the page's language
    assert wording["days"] == "%(d)s 天 %(h)s 小时" and wording["left"] == "剩余 %(span)s"


def test_the_regulatory_clocks_of_the_decision_are_listed_with_their_state(world: World) -> None:
    page = _text(_client(world.r.qa).get("/recalls/dashboard/?status=open&drill=no"))

    assert "China recall plan: 5 working days" in page
    assert "left" in page  # running clocks count down
    assert world.drill.number not in page.split("Affected units by holder")[0]


def test_units_are_grouped_by_holder_and_by_the_holders_region(world: World) -> None:
    board = recall_board.recall_board(user=world.r.qa, campaign=world.campaign.number)

    regions = {(g["province"], g["city"]): (g["units"], g["holders"]) for g in board.regions}
    assert regions == {("浙江省", "杭州市"): (2, 1), ("江苏省", "南京市"): (1, 1)}
    holders = {h["holder_name"]: (h["count"], h["pending"]) for h in board.holders}
    assert holders == {world.r.w.hospital.name: (2, 2), world.r.hospital_b.name: (1, 1)}

    everything = recall_board.recall_board(user=world.r.qa)
    zhejiang = next(g for g in everything.regions if g["province"] == "浙江省")
    assert zhejiang["units"] == 3  # the drill's unit is at hospital A too
    page = _text(_client(world.r.qa).get("/recalls/dashboard/"))
    assert "浙江省 杭州市" in page and "江苏省" in page


def test_effectiveness_checks_show_who_was_contacted_and_confirmed(world: World) -> None:
    check = services.effectiveness_check_start(campaign=world.campaign, level="A", user=world.r.qa)
    services.effectiveness_contact_record(
        check=check, notice=world.notice_a, result="confirmed", user=world.r.qa
    )

    board = recall_board.recall_board(user=world.r.qa)

    (found,) = _row(board, world.campaign.number).checks
    assert (found["level"], found["planned_count"], found["contacted"], found["confirmed"]) == (
        "A",
        2,
        1,
        1,
    )
    page = _text(_client(world.r.qa).get("/recalls/dashboard/"))
    assert "check A: 1 of 2 contacted, 1 confirmed" in page


def _queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_the_page_takes_the_same_queries_for_one_campaign_or_three(world: World) -> None:
    browser = _client(world.r.qa)
    browser.get("/recalls/dashboard/")  # sessions, permissions and translations warmed up
    one = _queries(browser, f"/recalls/dashboard/?status=all&campaign={world.campaign.number}")
    r = world.r
    extra = r.open("serials", serials=r.at(r.hospital_b, "DX1", "DX2"))
    r.approved(extra)
    r.notified(extra)
    three = _queries(browser, f"/recalls/dashboard/?status=all&campaign={world.campaign.number}")

    assert one == three
    assert three <= 20


def test_the_auditor_reads_the_dashboard_and_partners_are_refused(world: World) -> None:
    audited = _client(world.r.auditor).get("/recalls/dashboard/")
    assert audited.status_code == 200
    main = audited.content.decode().split("<main>")[1]
    assert 'method="post"' not in main  # nothing to act on

    for partner in (world.r.d.hospital_user, world.r.distributor_user):
        assert _client(partner).get("/recalls/dashboard/").status_code == 403
    anonymous = Client().get("/recalls/dashboard/")
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]


def test_a_bad_filter_is_named_and_the_default_board_shown(world: World) -> None:
    page = _client(world.r.qa).get("/recalls/dashboard/?status=sideways&campaign=RC-NOPE")
    text = _text(page)
    assert page.status_code == 200
    assert "status: expected one of active, open, draft, closed, all" in text
    assert world.campaign.number in text
