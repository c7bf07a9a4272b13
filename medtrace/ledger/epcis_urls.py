"""Routes of the EPCIS 2.0 REST binding, mounted at /epcis/ (rest/openapi.yaml).

Path values (eventIDs, EPCs, locations) are URIs that may contain ':' and '/', so they are
matched with ``<path:...>``; the ``.../events`` routes come first so that suffix is not read as
part of the value.
"""

from __future__ import annotations

from django.urls import URLPattern, path

from . import epcis_capture
from .epcis_query import (
    event_detail,
    events,
    next_page_token,
    resource,
    root,
    top_level,
    unknown,
)
from .epcis_query_named import (
    queries,
    query_detail,
    query_events,
    subscription_detail,
    subscriptions,
)

app_name = "epcis"

capture = resource(["GET", "POST"], {"GET": epcis_capture.capture, "POST": epcis_capture.capture})
capture_job = resource(["GET"], {"GET": epcis_capture.capture_job})


def _top_level(name: str) -> list[URLPattern]:
    collection, item, item_events = top_level(name)
    return [
        path(f"{name}", collection, name=name),
        path(f"{name}/<path:value>/events", item_events, name=f"{name}-events"),
        path(f"{name}/<path:value>", item, name=f"{name}-item"),
    ]


urlpatterns = [
    path("", root, name="root"),
    path("capture", capture, name="capture"),
    path("capture/<str:capture_id>", capture_job, name="capture-job"),
    path("events", events, name="events"),
    path("events/<path:event_id>", event_detail, name="event"),
    *_top_level("eventTypes"),
    *_top_level("epcs"),
    *_top_level("bizSteps"),
    *_top_level("bizLocations"),
    *_top_level("readPoints"),
    *_top_level("dispositions"),
    path("queries", queries, name="queries"),
    path("queries/<str:name>", query_detail, name="query"),
    path("queries/<str:name>/events", query_events, name="query-events"),
    path("queries/<str:name>/subscriptions", subscriptions, name="subscriptions"),
    path(
        "queries/<str:name>/subscriptions/<str:subscription_id>",
        subscription_detail,
        name="subscription",
    ),
    path("nextPageToken/<path:token>", next_page_token, name="next-page-token"),
    path("<path:rest>", unknown, name="unknown"),
]
