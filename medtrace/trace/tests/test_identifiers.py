"""Every identifier form of DESIGN §5 names the same ledger object; clear 404/409/422 errors."""

from __future__ import annotations

import pytest

from medtrace.errors import Conflict, NotFound, ValidationFailed
from medtrace.lib import udi
from medtrace.masterdata.tests import factories as md
from medtrace.trace.selectors import resolve_target

from . import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def w() -> f.World:
    world = f.world()
    f.capture(
        f.commission([world.device_sn("ID-1"), world.board_sn("DUP"), world.device_sn("DUP")],
                     f.t(1)),
        f.obj_lots([(world.resin_lot("L-7"), 3)], f.t(1), biz_step="receiving"),
        f.aggregate(world.sscc(77), [world.device_sn("ID-1")], f.t(2)),
    )  # fmt: skip
    return world


def _forms(w: f.World) -> list[str]:
    gtin = w.gtin(w.device)
    return [
        w.device_sn("ID-1"),  # EPC URN
        f"https://id.gs1.org/01/{gtin}/21/ID-1",  # GS1 Digital Link
        f"https://resolver.example.com/stem/01/{gtin}/21/ID-1?17=261231",  # any resolver
        f"(01){gtin}(21)ID-1",  # bracketed element string
        f"]d201{gtin}17261231" + "21ID-1",  # raw scan, symbology identifier
        f"01{gtin}21ID-1\x1d10LOT-A",  # raw scan with a GS separator (lot + serial = unit)
        "ID-1",  # the bare serial of a known unit
    ]


def test_every_form_of_a_unit_identifier_resolves_to_its_sgtin(w: f.World) -> None:
    for form in _forms(w):
        target = resolve_target(form, user=None)
        assert (form, target.epc, target.kind) == (form, w.device_sn("ID-1"), "serial")


def test_gtin_and_lot_name_the_lot_class(w: f.World) -> None:
    lot = w.resin_lot("L-7")
    for form in (f"(01){w.resin.gtin}(10)L-7", f"https://id.gs1.org/01/{w.resin.gtin}/10/L-7",
                 lot):  # fmt: skip
        target = resolve_target(form, user=None)
        assert (target.epc, target.kind) == (lot, "lot")


def test_an_sscc_names_the_container(w: f.World) -> None:
    body = w.sscc(77).split(":")[-1].replace(".", "")
    sscc = body[7] + body[:7] + body[8:]
    sscc += udi.gs1_check_digit(sscc)

    target = resolve_target(f"(00){sscc}", user=None)

    assert (target.epc, target.kind) == (w.sscc(77), "container")


def test_an_hibc_label_names_the_hibc_unit(w: f.World) -> None:
    product = md.product(manufacturer=w.maker, issuing_agency="hibcc", gcp_length=None,
                         identifiers=[{"packaging_level": "unit", "di": "A999PUMP10"}])  # fmt: skip
    urn = udi.hibc_urn(product.identifiers.get().di, "H123")
    f.capture(f.commission([urn], f.t(3)))

    target = resolve_target(udi.build_hibc(lic="A999", pcn="PUMP1", uom=0, serial="H123"),
                            user=None)  # fmt: skip

    assert (target.epc, target.kind) == (urn, "serial")
    assert target.state is not None and target.state["product_id"] == product.pk


def test_a_serial_shared_by_two_products_is_a_409_listing_both(w: f.World) -> None:
    with pytest.raises(Conflict) as caught:
        resolve_target("DUP", user=None)

    assert caught.value.details == {"candidates": sorted([w.board_sn("DUP"), w.device_sn("DUP")])}
    assert "scan the full UDI" in caught.value.message


def test_unknown_objects_are_404(w: f.World) -> None:
    gtin = w.gtin(w.device)
    for form in ("NO-SUCH-SERIAL", f"(01){gtin}(21)NOPE", w.device_sn("NOPE"),
                 f"(01){w.resin.gtin}(10)NO-LOT"):  # fmt: skip
        with pytest.raises(NotFound):
            resolve_target(form, user=None)


def test_a_malformed_udi_is_a_422_with_the_parsers_reason(w: f.World) -> None:
    with pytest.raises(ValidationFailed, match="check digit"):
        resolve_target("(01)06901234000116(21)X", user=None)


def test_a_product_identifier_alone_is_a_422(w: f.World) -> None:
    with pytest.raises(ValidationFailed, match="names a product"):
        resolve_target(f"(01){w.gtin(w.device)}", user=None)
