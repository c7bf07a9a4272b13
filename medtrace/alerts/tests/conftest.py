"""Alert-rule rows come from a data migration; a transactional test elsewhere in the run empties
every table when it ends, so each database test here starts with every rule row in place (as
a fresh installation has them)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _alert_rules_seeded(request: pytest.FixtureRequest) -> Iterator[None]:
    marker = request.node.get_closest_marker("django_db")
    if marker is None:
        yield
        return
    transactional = bool(marker.kwargs.get("transaction"))
    request.getfixturevalue("transactional_db" if transactional else "db")
    from medtrace.alerts import rules

    for kind in rules.SPECS:
        rules.rule(kind)  # re-created from the defaults when missing
    yield
