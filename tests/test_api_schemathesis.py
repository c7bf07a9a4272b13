"""schemathesis against the API's own OpenAPI document (issue 7 §6, DESIGN §2).

The document is fetched from ``/api/v1/openapi.json`` of the real WSGI application, in process,
and every operation in it is called with generated requests, valid ones and invalid ones, as
the demo's administrator with a bearer token carrying every scope, against the demo world
(``medtrace demo``: parties, products, pumps through production, quality, warehouse,
distribution, service, complaints and recalls). Each response must

- not be a server error (5xx);
- have a status code the operation documents (``response={...}`` in the router);
- have the documented content type, headers and body schema.

The world is built once for the module, in a transaction rolled back at its end; each request
runs in a savepoint rolled back after it, so every generated request sees the same world.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, given, seed, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

# Examples per operation and generation mode: enough to reach the odd corners of each input
# (empty strings, huge numbers, wrong types, unknown ids) in about two minutes per database.
# The seed is fixed so that the suite is repeatable; a deeper search runs with, e.g.,
# MEDTRACE_SCHEMATHESIS_SEED=1 MEDTRACE_SCHEMATHESIS_EXAMPLES=50.
MAX_EXAMPLES = int(os.environ.get("MEDTRACE_SCHEMATHESIS_EXAMPLES", "5"))
SEED = int(os.environ.get("MEDTRACE_SCHEMATHESIS_SEED", "7"))


def _application() -> WSGIHandler:
    return WSGIHandler()


schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", _application())
# One pytest item per operation and mode, by plain parametrization: schemathesis's own
# ``schema.parametrize()`` gives its items one node id, so pytest-xdist (make test) ran only one.
LOADED = list(schema.get_all_operations())
OPERATIONS = sorted(result.ok().label for result in LOADED if isinstance(result, Ok))


class World:
    def __init__(self, headers: dict[str, str]) -> None:
        self.headers = headers


@pytest.fixture(scope="module")
def world(django_db_setup: None, django_db_blocker: Any) -> Iterator[World]:
    from django.core.cache import cache

    from medtrace.accounts.models import User
    from medtrace.accounts.services import scopes_for, token_create
    from medtrace.masterdata.demo.load import load_demo

    # Django's test client keeps the test's connection open across requests; the real WSGI
    # handler would close it at the end of each request, and with it the test's transaction.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            cache.clear()
            load_demo(log=lambda _line: None)
            admin = User.objects.get(username="admin")
            _token, raw = token_create(user=admin, scopes=sorted(scopes_for(admin)))
            yield World({"Authorization": f"Bearer {raw}"})
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)
            request_started.connect(close_old_connections)
            request_finished.connect(close_old_connections)


def test_every_operation_of_the_document_can_be_generated() -> None:
    errors = [str(result.err()) for result in LOADED if not isinstance(result, Ok)]
    assert not errors
    assert len(OPERATIONS) > 200


@pytest.mark.django_db
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
@pytest.mark.parametrize("label", OPERATIONS)
def test_the_api_conforms_to_its_openapi_document(
    label: str, mode: GenerationMode, world: World
) -> None:
    operation = schema.find_operation_by_label(label)
    assert operation is not None

    @seed(SEED)
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        print_blob=True,
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def call(case: Any) -> None:
        with transaction.atomic():
            case.call_and_validate(headers=world.headers, checks=CHECKS)
            transaction.set_rollback(True)

    call()
