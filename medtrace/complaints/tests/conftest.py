"""The default signal rules come from a data migration; a transactional test elsewhere in the
run empties every table when it ends, so each database test here starts with them in place (as
a fresh installation has them), and with every alert-rule row."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _default_rules_seeded(request: pytest.FixtureRequest) -> Iterator[None]:
    marker = request.node.get_closest_marker("django_db")
    if marker is None:
        yield
        return
    transactional = bool(marker.kwargs.get("transaction"))
    request.getfixturevalue("transactional_db" if transactional else "db")
    from medtrace.alerts import rules
    from medtrace.complaints.models import SignalRule

    for dimension, threshold, window_days in (("lot", 2, 30), ("component_lot", 2, 30)):
        if not SignalRule.objects.filter(dimension=dimension).exists():
            SignalRule.objects.create(
                dimension=dimension, threshold=threshold, window_days=window_days, active=True
            )
    for kind in rules.SPECS:
        rules.rule(kind)
    yield
