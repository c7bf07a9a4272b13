"""The unit's genealogy graph (server-rendered SVG): containers above, parts below, expanding
a node, removed parts dashed with their dates, bounded size, accessible links."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from medtrace.accounts.models import User
from medtrace.trace.tests import factories as f
from medtrace.trace.tests.lot_story import Story, tell

pytestmark = pytest.mark.django_db


@pytest.fixture
def story(hospital_a: User, hospital_b: User) -> Story:
    assert hospital_a.party is not None and hospital_b.party is not None
    return tell(f.world(), (hospital_a.party, hospital_b.party))


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _graph(client: Client, epc: str, **extra: str) -> str:
    response = client.get("/trace/genealogy/", {"id": epc, **extra})
    assert response.status_code == 200, response.content[:300]
    return response.content.decode()


def _boxes(html: str) -> dict[str, str]:
    """Each drawn box's key (data-key) and its group's class attribute."""
    found = re.findall(r'<g class="([^"]*)" transform="[^"]*">\s*<a href="[^"]*"[^>]*'
                       r'data-key="([^"]*)"', html)  # fmt: skip
    return {key: css for css, key in found}


def test_the_case_is_drawn_above_the_unit_and_its_board_below(
    story: Story, qa_manager: User
) -> None:
    html = _graph(_client(qa_manager), story.devices[0])

    boxes = _boxes(html)
    assert "root" in boxes[story.devices[0]]
    assert "container" in boxes[story.case]
    assert story.boards[0] in boxes
    # The case's box sits above the unit, the board's below it.
    y = {key: float(y) for y, key in re.findall(
        r'transform="translate\([\d.]+,([\d.]+)\)">\s*<a href="[^"]*"[^>]*data-key="([^"]*)"',
        html)}  # fmt: skip
    assert y[story.case] < y[story.devices[0]] < y[story.boards[0]]
    assert "SSCC " + story.case_udi[4:] in html


def test_a_removed_part_is_drawn_dashed_with_the_dates_it_was_in(
    story: Story, qa_manager: User
) -> None:
    html = _graph(_client(qa_manager), story.devices[2])

    assert "removed" in _boxes(html)[story.removed_board]
    assert "2025-03-02 – 2025-03-09" in html
    assert 'class="link removed"' in html


def test_expanding_a_node_draws_what_it_is_made_of(story: Story, qa_manager: User) -> None:
    client = _client(qa_manager)
    closed = _graph(client, story.devices[0])
    control = re.search(
        r'<a class="gx" href="([^"]*)" data-fragment="([^"]*)" data-key="x:'
        + re.escape(story.boards[0]),
        closed,
    )
    assert control is not None and story.resin not in _boxes(closed)

    fragment_url = control.group(2).replace("&amp;", "&")
    opened = client.get(fragment_url).content.decode()

    assert parse_qs(urlparse(fragment_url).query)["expand"] == [story.boards[0]]
    assert story.resin in _boxes(opened)  # the resin lot the board was made from
    assert '">−</text>' in opened  # the board's control now collapses it
    page_link = control.group(1).replace("&amp;", "&")
    assert urlparse(page_link).path == "/trace/" and page_link.endswith("#genealogy")


def test_every_box_is_a_link_with_a_title(story: Story, qa_manager: User) -> None:
    page = _graph(_client(qa_manager), story.devices[0])
    html = page[page.index("<svg") :]

    links = re.findall(r"<a [^>]*>\s*<title>([^<]+)</title>", html)
    assert len(links) == html.count("<a ")
    assert all(title.strip() for title in links)
    assert all(re.search(r'aria-label="[^"]+"', a) for a in re.findall(r"<a [^>]*>", html))
    # A lot opens the lot page, a case the container page.
    assert f'href="/trace/container/?id={story.case.replace(":", "%3A")}' in html


def test_a_unit_with_many_parts_shows_a_bounded_graph_with_a_more_box(
    qa_manager: User,
) -> None:
    w = f.world()
    device = w.device_sn("MANY")
    pumps = [w.pump_sn(f"MP{n:02d}") for n in range(20)]
    f.capture(f.commission([device, *pumps], f.t(1)), f.associate(device, pumps, f.t(2)))
    client = _client(qa_manager)

    html = _graph(client, device)
    everything = _graph(client, device, all=device)

    assert len([k for k in _boxes(html) if k in pumps]) == 7
    more = [key for key, css in _boxes(html).items() if "more" in css.split()]
    assert len(more) == 1
    assert re.search(r'class="node more".*?>[^<]*\b13\b', html, re.S)
    assert len([k for k in _boxes(everything) if k in pumps]) == 20


def test_a_hospital_cannot_draw_another_hospitals_unit(
    story: Story, hospital_a: User, hospital_b: User
) -> None:
    own = _client(hospital_a).get("/trace/genealogy/", {"id": story.devices[0]})
    other = _client(hospital_b).get("/trace/genealogy/", {"id": story.devices[0]})

    assert own.status_code == 200
    assert other.status_code == 404
    assert story.boards[0] not in other.content.decode()


def test_the_graph_downloads_as_an_svg_document(story: Story, qa_manager: User) -> None:
    response = _client(qa_manager).get(
        "/trace/genealogy/", {"id": story.devices[0], "format": "svg"}
    )

    body = response.content.decode()
    assert response["Content-Type"].startswith("image/svg+xml")
    assert body.startswith("<?xml") and 'xmlns="http://www.w3.org/2000/svg"' in body


def test_drawing_the_graph_costs_the_same_statements_for_few_or_many_parts(
    qa_manager: User,
) -> None:
    w = f.world()
    units = []
    for name, parts in (("FEW", 2), ("LOTS", 25)):
        device = w.device_sn(name)
        pumps = [w.pump_sn(f"{name}{n}") for n in range(parts)]
        f.capture(f.commission([device, *pumps], f.t(1)), f.associate(device, pumps, f.t(2)))
        units.append(device)
    client = _client(qa_manager)
    _graph(client, units[0])

    counts = []
    for device in units:
        with CaptureQueriesContext(connection) as queries:
            _graph(client, device)
        counts.append(len(queries))

    assert counts[0] == counts[1], counts


def test_the_unit_page_draws_the_graph_and_keeps_an_expanded_node_open(
    story: Story, qa_manager: User
) -> None:
    client = _client(qa_manager)

    page = client.get("/trace/", {"id": story.devices[0]}).content.decode()
    expanded = client.get(
        "/trace/", {"id": story.devices[0], "expand": story.boards[0]}
    ).content.decode()

    assert 'id="genealogy"' in page and "data-graph" in page
    assert story.case in _boxes(page) and story.boards[0] in _boxes(page)
    assert story.resin not in _boxes(page)
    assert story.resin in _boxes(expanded)  # the no-script expand link reloads the page
