"""The UDI database fields of products and parties (used by the DI exports): optional, checked
per field when set."""

from __future__ import annotations

from typing import Any

import pytest

from medtrace.errors import ValidationFailed
from medtrace.masterdata import services

from . import factories as md

pytestmark = pytest.mark.django_db


def test_the_udi_database_fields_are_optional_and_saved() -> None:
    product = md.product(
        trade_name="瑞通",
        catalog_number="REF-1",
        mri_safety="mr_safe",
        max_reuses=50,
        direct_marking=True,
        udi_published_on="2025-01-15",
        fda_product_code="FRN",
        basic_udi_di="6901234ABC1X",
    )
    product.refresh_from_db()

    assert (product.trade_name, product.mri_safety, product.max_reuses) == ("瑞通", "mr_safe", 50)
    assert str(product.udi_published_on) == "2025-01-15"
    assert md.product().is_kit is None  # unknown, not "no"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"fda_product_code": "frn1"}, "fda_product_code"),
        ({"basic_udi_di": "has space"}, "basic_udi_di"),
        ({"mri_safety": "maybe"}, "mri_safety"),
        ({"single_use": True, "max_reuses": 3}, "max_reuses"),
        ({"direct_marking_di": "06901234000019"}, "direct_marking_di"),
    ],
)
def test_a_bad_value_is_refused_naming_the_field(data: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        md.product(**data)

    assert caught.value.field == field


@pytest.mark.parametrize(
    ("data", "field"), [({"duns": "12345"}, "duns"), ({"eudamed_srn": "CN-XX-1"}, "eudamed_srn")]
)
def test_a_party_checks_its_duns_and_srn(data: dict[str, object], field: str) -> None:
    party = md.party()
    with pytest.raises(ValidationFailed) as caught:
        services.party_update(party=party, data=data, user=None)

    assert caught.value.field == field
