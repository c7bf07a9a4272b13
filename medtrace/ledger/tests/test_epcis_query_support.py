"""Helpers shared by the EPCIS query tests (no tests here): clients, capture, reading results."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from django.test import Client

from medtrace.accounts.services import token_create
from medtrace.ledger import services
from medtrace.ledger.models import CaptureJob
from medtrace.ledger.tests import builders as b

CONFORMANCE = Path(__file__).resolve().parents[3] / ".." / "shared" / "conformance" / "epcis"
EXAMPLE_NS = "https://ns.example.com/epcis/"
CONTEXT = [b.CONTEXT[0], {"example": EXAMPLE_NS}]


def epcis_client(user: Any, scopes: tuple[str, ...] = ("epcis:capture", "epcis:query")) -> Client:
    _token, raw = token_create(user=user, scopes=list(scopes))
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}")


def capture(*events: dict[str, Any], user: Any = None, context: Any = None) -> CaptureJob:
    """Capture through the real capture path (services.capture_document)."""
    return services.capture_document(
        data=b.document(*events, context=context or CONTEXT), user=user
    )


def get(client: Client, path: str = "/epcis/events", **params: Any) -> Any:
    """GET with query parameters (lists repeat the parameter); returns the response."""
    return client.get(path, params)


def events_of(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["type"] == "EPCISQueryDocument"
    return body["epcisBody"]["queryResults"]["resultsBody"]["eventList"]


def ids_of(response: Any) -> list[str]:
    return [event["eventID"] for event in events_of(response)]


def event_url(event_id: str) -> str:
    return "/epcis/events/" + quote(event_id, safe="")


def next_url(response: Any) -> str | None:
    link = response.headers.get("Link")
    if not link:
        return None
    assert link.endswith('>; rel="next"'), link
    return link[1 : link.index(">")].removeprefix("http://testserver")


def required_next_url(response: Any) -> str:
    url = next_url(response)
    assert url is not None, "expected a Link rel=next header"
    return url


def problem_of(response: Any, status: int, type_: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == type_, body
    assert body["status"] == status
    return body
