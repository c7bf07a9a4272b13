"""The KPI dashboard (/kpis/) and GET /api/v1/kpis/series: one accessible SVG chart per KPI with
its data table, by week or month over a chosen range, the audit chain's status; bad input named
next to its field; internal staff only."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.test import Client

from medtrace.accounts.models import User
from medtrace.dashboards.views import range_dates
from medtrace.masterdata.models import Party
from medtrace.service.models_lifecycle import ServiceTicket

pytestmark = pytest.mark.django_db

CHARTS = ("completeness", "binding", "recall", "after-sales", "false-alarms", "audit")


def _staff(role: str = "qa_ra") -> User:
    u = User.objects.create_user(f"{role}_kpi", password=None)
    u.groups.add(Group.objects.get(name=role))
    return u


def _browser(u: User, language: str = "en") -> Client:
    client = Client()
    client.force_login(u)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    return client


def test_each_kpi_is_an_accessible_svg_chart_with_its_data_table() -> None:
    now = datetime.now(UTC)
    ServiceTicket.objects.create(
        number="ST-K1",
        unit_epc="urn:epc:id:sgtin:0950600.013435.K1",
        symptom="x",
        opened_at=now - timedelta(hours=30),
        resolved_at=now - timedelta(hours=6),
        status="resolved",
        test_result="pass",
    )

    page = _browser(_staff()).get("/kpis/")

    html = page.content.decode()
    assert page.status_code == 200
    for key in CHARTS:
        svg = re.search(rf'<svg [^>]*id="chart-{key}"[^>]*>(.*?)</svg>', html, re.S)
        assert svg is not None, key
        assert 'role="img"' in svg.group(0)
        assert f'aria-labelledby="chart-{key}-title chart-{key}-desc"' in svg.group(0)
        assert f'<title id="chart-{key}-title">' in svg.group(1)
        assert f'<desc id="chart-{key}-desc">' in svg.group(1)
    assert html.count('class="chart-data"') == len(CHARTS)
    # the ticket resolved this month: 24 hours, in the after-sales chart and its table
    assert "median · " in html and "24 h" in html
    assert "no-cache" in page["Cache-Control"]


def test_the_range_and_the_periods_are_chosen_on_the_page() -> None:
    browser = _browser(_staff("warehouse"))

    weekly = browser.get("/kpis/", {"range": "12w", "granularity": "week"}).content.decode()
    monthly = browser.get("/kpis/", {"from": "2025-01-01", "to": "2025-06-30"}).content.decode()

    table = re.search(r'id="chart-audit".*?<tbody>(.*?)</tbody>', weekly, re.S)
    assert table is not None and table.group(1).count("<tr>") in (12, 13)
    assert "From 2025-01-01 to 2025-06-30" in monthly
    for month in ("2025-01", "2025-06"):
        assert f'<th scope="row">{month}</th>' in monthly


def test_a_bad_date_is_named_next_to_its_field_and_the_default_range_shown() -> None:
    page = _browser(_staff()).get("/kpis/", {"from": "2025-13-01"})

    html = page.content.decode()
    assert page.status_code == 422
    assert 'id="e-from"' in html and "from: &#x27;2025-13-01&#x27; is not a date" in html
    assert 'aria-invalid="true"' in html
    assert html.count("<svg") >= len(CHARTS)


def test_ranges_start_on_a_monday_or_on_the_first_of_a_month() -> None:
    today = date(2026, 3, 18)  # a Wednesday
    assert range_dates("12w", today) == (date(2025, 12, 29), today)
    assert range_dates("3m", today) == (date(2026, 1, 1), today)
    assert range_dates("24m", today) == (date(2024, 4, 1), today)


def test_the_audit_chain_status_is_on_the_page() -> None:
    page = _browser(_staff("auditor")).get("/kpis/").content.decode()

    status = re.search(r'id="audit-status".*?</div>', page, re.S)
    assert status is not None
    assert "not verified yet" in status.group(0)
    assert "/audit/" in status.group(0)  # the auditor reads the audit trail


def test_partners_are_refused_the_kpis_and_their_series() -> None:
    party = Party.objects.create(name="H", role="hospital", gln="0950600000019")
    partner = User.objects.create_user("h_kpi", password=None, party=party)
    browser = _browser(partner)

    assert browser.get("/kpis/").status_code == 403
    assert browser.get("/api/v1/kpis/series").status_code == 403


def test_the_series_api_serves_every_kpi_per_period() -> None:
    client = Client()
    client.force_login(_staff())

    response = client.get(
        "/api/v1/kpis/series", {"from": "2025-03-01", "to": "2025-03-16", "granularity": "week"}
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert [p["period"] for p in body["periods"]] == ["2025-02-24", "2025-03-03", "2025-03-10"]
    assert set(body) >= {
        "trace_completeness",
        "serial_binding_accuracy",
        "recall_response_time",
        "after_sales_handling_time",
        "alert_false_alarm_rate",
        "audit_chain",
    }
    bad = client.get("/api/v1/kpis/series", {"granularity": "day"})
    assert bad.status_code == 422
