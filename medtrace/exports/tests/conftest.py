from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import transaction

from .factories import ExportWorld, export_world


@pytest.fixture(scope="module")
def ew(django_db_setup: None, django_db_blocker: Any) -> Iterator[ExportWorld]:
    """The export world, built once per module in a transaction rolled back at its end; each
    test runs in a savepoint inside it (pytest-django's ``db``)."""
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            from django.core.cache import cache

            cache.clear()
            yield export_world()
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)
