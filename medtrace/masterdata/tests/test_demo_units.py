"""`medtrace demo --units N` (its own module: the tests of test_demo.py share one default demo,
and this one needs an empty database)."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from medtrace.masterdata.models import Party, Product

pytestmark = pytest.mark.django_db


def test_demo_units_scales_the_same_shape() -> None:
    from medtrace.ledger.models import UnitState

    call_command("demo", "--units", "1500", stdout=io.StringIO())

    pump = Product.objects.get(model="IP-300")
    assert Party.objects.filter(role="hospital").count() == 3
    # The event stream's pumps (serials P…); the department stories add their own few.
    assert UnitState.objects.filter(product=pump, serial__startswith="P").count() == 1500
    holders = set(UnitState.objects.filter(product=pump).values_list("possessing_party", flat=True))
    assert len(holders) >= 3  # spread over the hospitals, including the added one
