from __future__ import annotations

from decimal import Decimal

import pytest

from medtrace.errors import Conflict, PermissionDenied, SequenceViolation, ValidationFailed
from medtrace.masterdata import services
from medtrace.masterdata.models import Bom, BomStatus, Party, Product, ProductIdentifier

from . import factories

pytestmark = pytest.mark.django_db


def test_a_party_with_a_wrong_gln_check_digit_is_refused_with_the_expected_digit() -> None:
    good = factories.gln("6920101")
    bad = good[:-1] + str((int(good[-1]) + 1) % 10)

    with pytest.raises(ValidationFailed) as err:
        services.party_create(data={"name": "X", "role": "supplier", "gln": bad}, user=None)

    assert err.value.field == "gln"
    assert f"should be {good[-1]}" in err.value.message
    assert not Party.objects.filter(name="X").exists()


def test_an_unknown_licence_type_is_refused_and_the_accepted_types_are_listed() -> None:
    party = factories.party(role="distributor")

    with pytest.raises(ValidationFailed) as err:
        services.licence_add(
            party=party, data={"kind": "fishing_licence", "number": "1"}, user=None
        )

    assert err.value.field == "kind"
    assert "distribution_licence" in err.value.message
    assert not party.licences.exists()


def test_a_licence_number_must_match_its_kind() -> None:
    party = factories.party(role="distributor")

    with pytest.raises(ValidationFailed) as err:
        services.licence_add(
            party=party,
            data={"kind": "distribution_licence", "number": "苏食药监械生产许20150023号"},
            user=None,
        )

    assert err.value.field == "number"
    assert "械经营许" in err.value.message


def test_a_hospital_cannot_hold_a_production_licence() -> None:
    party = factories.party(role="hospital")

    with pytest.raises(ValidationFailed) as err:
        services.licence_add(
            party=party,
            data={"kind": "production_licence", "number": "苏食药监械生产许20150023号"},
            user=None,
        )

    assert err.value.field == "kind"


def test_a_gtin13_di_is_stored_as_gtin14() -> None:
    maker = factories.party()
    gtin14 = factories.gtin(maker.gs1_company_prefix, 7)

    product = factories.product(
        manufacturer=maker, identifiers=[{"packaging_level": "unit", "di": gtin14[1:]}]
    )

    assert product.identifiers.get().di == gtin14


def test_a_duplicate_di_is_refused_even_when_written_as_gtin13() -> None:
    maker = factories.party()
    gtin14 = factories.gtin(maker.gs1_company_prefix, 8)
    factories.product(manufacturer=maker, identifiers=[{"packaging_level": "unit", "di": gtin14}])

    with pytest.raises(ValidationFailed) as err:
        factories.product(
            manufacturer=maker, identifiers=[{"packaging_level": "unit", "di": gtin14[1:]}]
        )

    assert err.value.field == "identifiers[0].di"
    assert "already used" in err.value.message
    assert Product.objects.count() == 1


def test_a_wrong_gtin_check_digit_names_the_right_digit() -> None:
    maker = factories.party()
    good = factories.gtin(maker.gs1_company_prefix, 9)
    bad = good[:-1] + str((int(good[-1]) + 3) % 10)

    with pytest.raises(ValidationFailed) as err:
        factories.product(manufacturer=maker, identifiers=[{"packaging_level": "unit", "di": bad}])

    assert err.value.field == "identifiers[0].di"
    assert good[-1] in err.value.message
    assert not Product.objects.exists()


def test_a_product_is_stored_with_all_its_dis_or_not_at_all() -> None:
    maker = factories.party()
    unit = factories.gtin(maker.gs1_company_prefix, 11)
    case = factories.gtin(maker.gs1_company_prefix, 11, indicator="1")

    with pytest.raises(ValidationFailed) as err:
        factories.product(
            manufacturer=maker,
            tracking="lot",
            identifiers=[
                {"packaging_level": "unit", "di": unit},
                {"packaging_level": "case", "di": case, "quantity": 1},
            ],
        )

    assert err.value.field == "identifiers[1].quantity"
    assert not Product.objects.exists()
    assert not ProductIdentifier.objects.exists()


def test_a_class_i_device_needs_a_filing_number_not_a_registration_number() -> None:
    with pytest.raises(ValidationFailed) as err:
        factories.product(risk_class="I", nmpa_registration_no="国械注准20203140123")

    assert err.value.field == "nmpa_registration_no"


def test_an_implant_must_be_serial_tracked() -> None:
    with pytest.raises(ValidationFailed) as err:
        factories.product(tracking="lot", implantable=True)

    assert err.value.field == "tracking"


def test_a_serial_tracked_product_must_carry_the_serial_in_its_udi() -> None:
    with pytest.raises(ValidationFailed) as err:
        factories.product(tracking="serial", udi_pi_elements=["lot"])

    assert err.value.field == "udi_pi_elements"


def test_an_hibc_product_keeps_its_lic_pcn_and_unit_of_measure() -> None:
    product = factories.product(
        issuing_agency="hibcc", identifiers=[{"packaging_level": "unit", "di": "k123ps651"}]
    )

    identifier = product.identifiers.get()
    assert identifier.di == "K123PS651"
    assert (identifier.hibc_lic, identifier.hibc_pcn, identifier.hibc_uom) == ("K123", "PS65", 1)


def test_an_hibc_di_with_a_digit_first_lic_is_refused() -> None:
    with pytest.raises(ValidationFailed) as err:
        factories.product(
            issuing_agency="hibcc", identifiers=[{"packaging_level": "unit", "di": "1234PS651"}]
        )

    assert "LIC" in err.value.message


def test_a_location_gets_its_sgln_from_the_partys_company_prefix() -> None:
    owner = factories.party(prefix="6920109")

    site = factories.location(owner=owner, ref=5)

    assert site.sgln == "urn:epc:id:sgln:6920109.00005.0"


def test_a_bin_cannot_sit_directly_in_a_site() -> None:
    owner = factories.party()
    site = factories.location(owner=owner)

    with pytest.raises(ValidationFailed) as err:
        factories.location(owner=owner, kind="bin", parent_id=site.pk)

    assert err.value.field == "parent"


def test_a_released_bom_is_frozen_and_the_old_release_becomes_obsolete() -> None:
    product = factories.product()
    part = factories.material(tracking="serial")
    first = factories.bom(product_=product, lines=[(part, "1")])
    services.bom_release(bom=first, user=None)
    second = factories.bom(product_=product, lines=[(part, "2")], version="B")

    services.bom_release(bom=second, user=None)

    assert Bom.objects.get(pk=first.pk).status == BomStatus.OBSOLETE
    assert Bom.objects.get(pk=second.pk).status == BomStatus.RELEASED
    with pytest.raises(Conflict):
        services.bom_line_add(
            bom=second,
            data={"material_id": factories.material().pk, "quantity": Decimal("1")},
            user=None,
        )
    with pytest.raises(SequenceViolation):
        services.bom_release(bom=second, user=None)


def test_a_serial_tracked_component_needs_a_whole_quantity() -> None:
    product = factories.product()
    part = factories.material(tracking="serial")

    with pytest.raises(ValidationFailed) as err:
        factories.bom(product_=product, lines=[(part, "1.5")])

    assert err.value.field == "lines[0].quantity"
    assert not Bom.objects.exists()


def test_a_warehouse_clerk_cannot_change_products(warehouse_clerk) -> None:
    product = factories.product()

    with pytest.raises(PermissionDenied):
        services.product_update(product=product, data={"name": "renamed"}, user=warehouse_clerk)

    assert Product.objects.get(pk=product.pk).name != "renamed"


def test_the_tracking_mode_of_a_product_cannot_change() -> None:
    product = factories.product(tracking="serial")

    with pytest.raises(ValidationFailed) as err:
        services.product_update(product=product, data={"tracking": "lot"}, user=None)

    assert err.value.field == "tracking"


def test_an_unknown_field_is_refused_not_dropped() -> None:
    with pytest.raises(ValidationFailed) as err:
        services.party_create(data={"name": "X", "role": "supplier", "colour": "red"}, user=None)

    assert err.value.field == "colour"


def test_a_wrong_unified_social_credit_code_check_is_refused() -> None:
    with pytest.raises(ValidationFailed) as err:
        services.party_create(
            data={"name": "X", "role": "supplier", "uscc": "91320594MA1MC8KX70"}, user=None
        )

    assert err.value.field == "uscc"
