from __future__ import annotations

import io
import json
from typing import Any

import pytest
import zxingcpp
from django.test import Client
from PIL import Image

from medtrace.masterdata.models import Party, Product

from . import factories

pytestmark = pytest.mark.django_db


def _post(client: Client, url: str, body: dict[str, Any]) -> Any:
    return client.post(url, data=json.dumps(body), content_type="application/json")


def _assert_error_shape(body: dict[str, Any], *, code: str, field: str) -> None:
    assert set(body) == {"error", "message", "field", "details"}
    assert body["error"] == code
    assert body["field"] == field
    assert body["message"]


def _product_body(maker: Party, di: str, **extra: Any) -> dict[str, Any]:
    body = {
        "manufacturer_id": maker.pk,
        "name": "输液泵",
        "model": "IP-9",
        "risk_class": "III",
        "nmpa_registration_no": "国械注准20203140123",
        "tracking": "serial",
        "udi_pi_elements": ["manufactured", "serial"],
        "identifiers": [{"packaging_level": "unit", "di": di}],
    }
    body.update(extra)
    return body


def test_the_api_refuses_anonymous_callers(db: None) -> None:
    response = Client().get("/api/v1/products")

    assert response.status_code == 401
    _assert_error_shape(response.json(), code="unauthenticated", field=None)  # type: ignore[arg-type]


def test_a_party_with_a_wrong_gln_gets_a_422_naming_the_field(admin_user, api_client) -> None:
    client = api_client(admin_user)

    response = _post(
        client, "/api/v1/parties", {"name": "Bad", "role": "supplier", "gln": "6920101000001"}
    )

    assert response.status_code == 422
    body = response.json()
    _assert_error_shape(body, code="validation_failed", field="gln")
    assert "check digit should be" in body["message"]
    assert not Party.objects.filter(name="Bad").exists()


def test_an_unknown_licence_type_gets_a_422_naming_the_nested_field(admin_user, api_client) -> None:
    client = api_client(admin_user)

    response = _post(
        client,
        "/api/v1/parties",
        {
            "name": "Dist",
            "role": "distributor",
            "licences": [{"kind": "driving_licence", "number": "X1"}],
        },
    )

    assert response.status_code == 422
    body = response.json()
    _assert_error_shape(body, code="validation_failed", field="licences[0].kind")
    assert "distribution_licence" in body["message"]
    assert not Party.objects.filter(name="Dist").exists()


def test_a_product_with_a_wrong_gtin_check_digit_gets_a_422(admin_user, api_client) -> None:
    maker = factories.party()
    good = factories.gtin(maker.gs1_company_prefix, 3)
    bad = good[:-1] + str((int(good[-1]) + 1) % 10)

    response = _post(api_client(admin_user), "/api/v1/products", _product_body(maker, bad))

    assert response.status_code == 422
    body = response.json()
    _assert_error_shape(body, code="validation_failed", field="identifiers[0].di")
    assert good[-1] in body["message"]


def test_a_duplicate_di_gets_a_422(admin_user, api_client) -> None:
    maker = factories.party()
    di = factories.gtin(maker.gs1_company_prefix, 4)
    client = api_client(admin_user)
    assert _post(client, "/api/v1/products", _product_body(maker, di)).status_code == 201

    response = _post(client, "/api/v1/products", _product_body(maker, di, model="IP-10"))

    assert response.status_code == 422
    _assert_error_shape(response.json(), code="validation_failed", field="identifiers[0].di")
    assert Product.objects.count() == 1


def test_a_misspelt_field_is_refused_not_ignored(admin_user, api_client) -> None:
    response = _post(
        api_client(admin_user),
        "/api/v1/parties",
        {"name": "P", "role": "supplier", "glm": "6920101000001"},
    )

    assert response.status_code == 422
    _assert_error_shape(response.json(), code="validation_failed", field="glm")


def test_a_product_is_created_read_and_patched(admin_user, api_client) -> None:
    maker = factories.party()
    di = factories.gtin(maker.gs1_company_prefix, 5)
    client = api_client(admin_user)

    created = _post(client, "/api/v1/products", _product_body(maker, di))
    product_id = created.json()["id"]
    unexplained = client.patch(
        f"/api/v1/products/{product_id}",
        data=json.dumps({"gmdn_code": "13215"}),
        content_type="application/json",
    )
    patched = client.patch(
        f"/api/v1/products/{product_id}",
        data=json.dumps({"gmdn_code": "13215", "reason": "GMDN term assigned"}),
        content_type="application/json",
    )
    listed = client.get("/api/v1/products", {"q": di})

    assert unexplained.status_code == 422 and unexplained.json()["field"] == "reason"
    assert created.status_code == 201
    assert created.json()["identifiers"][0]["di"] == di
    assert created.json()["gcp_length"] == len(maker.gs1_company_prefix)
    assert patched.status_code == 200 and patched.json()["gmdn_code"] == "13215"
    assert [p["id"] for p in listed.json()["items"]] == [product_id]


def test_a_token_without_the_write_scope_cannot_write(admin_user, api_client) -> None:
    client = api_client(admin_user, scopes=["masterdata:read"])

    response = _post(client, "/api/v1/parties", {"name": "P", "role": "supplier"})

    assert response.status_code == 403
    _assert_error_shape(response.json(), code="permission_denied", field=None)  # type: ignore[arg-type]


def test_an_auditor_reads_but_cannot_write(auditor, api_client) -> None:
    client = api_client(auditor)
    factories.party(name="Readable")

    assert client.get("/api/v1/parties").status_code == 200
    response = _post(client, "/api/v1/parties", {"name": "P", "role": "supplier"})

    assert response.status_code == 403
    assert not Party.objects.filter(name="P").exists()


def test_identify_parses_a_raw_scan_and_finds_the_product(admin_user, api_client) -> None:
    product = factories.product()
    di = product.identifiers.get().di

    response = api_client(admin_user).get("/api/v1/identify", {"udi": f"]d201{di}21SN-42"})

    body = response.json()
    assert response.status_code == 200
    assert body["gtin"] == di and body["serial"] == "SN-42"
    assert body["product"]["id"] == product.pk
    assert body["epc"].startswith("urn:epc:id:sgtin:")


def test_identify_gives_the_parsers_reason_for_a_bad_udi(admin_user, api_client) -> None:
    response = api_client(admin_user).get(
        "/api/v1/identify", {"udi": "(01)00844588003288(17)141320"}
    )

    assert response.status_code == 422
    body = response.json()
    _assert_error_shape(body, code="validation_failed", field="udi")
    assert "17" in body["message"] and "month" in body["message"].lower()


def _decode(png: bytes) -> Any:
    results = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert len(results) == 1
    return results[0]


def test_a_unit_label_decodes_to_exactly_the_encoded_udi(admin_user, api_client) -> None:
    product = factories.product(udi_pi_elements=["manufactured", "serial"])
    di = product.identifiers.get().di

    response = api_client(admin_user).get(
        f"/api/v1/products/{product.pk}/label",
        {"serial": "SN0001", "manufactured": "2025-03-01", "format": "png"},
    )

    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    decoded = _decode(response.content)
    assert decoded.symbology_identifier == "]d2"
    assert decoded.text == f"(01){di}(11)250301(21)SN0001"


def test_a_label_without_a_required_pi_element_is_refused(admin_user, api_client) -> None:
    product = factories.product(udi_pi_elements=["manufactured", "serial"])

    response = api_client(admin_user).get(
        f"/api/v1/products/{product.pk}/label", {"manufactured": "2025-03-01"}
    )

    assert response.status_code == 422
    _assert_error_shape(response.json(), code="validation_failed", field="serial")


def test_a_label_from_any_udi_form_renders_svg(admin_user, api_client) -> None:
    product = factories.product(udi_pi_elements=["serial"])
    di = product.identifiers.get().di

    response = api_client(admin_user).get(
        "/api/v1/labels", {"udi": f"https://id.gs1.org/01/{di}/21/ABC", "format": "svg"}
    )

    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    assert f"(01){di}(21)ABC" in response.content.decode()
    assert product.nmpa_registration_no in response.content.decode()


def test_the_openapi_document_is_served(db: None) -> None:
    response = Client().get("/api/v1/openapi.json")

    assert response.status_code == 200
    assert "/api/v1/products" in response.json()["paths"]


def test_an_unreferenced_party_can_be_deleted(admin_user, api_client) -> None:
    party = factories.party(role="carrier")

    response = api_client(admin_user).delete(f"/api/v1/parties/{party.pk}")

    assert response.status_code == 204
    assert not Party.objects.filter(pk=party.pk).exists()


def test_a_referenced_party_cannot_be_deleted_and_should_be_deactivated(
    admin_user, api_client
) -> None:
    maker = factories.party()
    factories.product(manufacturer=maker)

    response = api_client(admin_user).delete(f"/api/v1/parties/{maker.pk}")

    assert response.status_code == 409
    body = response.json()
    _assert_error_shape(body, code="conflict", field=None)  # type: ignore[arg-type]
    assert "deactivate" in body["message"]
    assert Party.objects.filter(pk=maker.pk).exists()


def test_a_released_bom_cannot_be_deleted(admin_user, api_client) -> None:
    product = factories.product()
    bom = factories.bom(product_=product, lines=[(factories.material(), "1")])
    client = api_client(admin_user)
    assert client.post(f"/api/v1/boms/{bom.pk}/release").status_code == 200

    response = client.delete(f"/api/v1/boms/{bom.pk}")

    assert response.status_code == 409
    assert client.get(f"/api/v1/boms/{bom.pk}").json()["status"] == "released"


def test_listing_products_takes_a_constant_number_of_queries(
    admin_user, api_client, django_assert_max_num_queries
) -> None:
    maker = factories.party()
    for _ in range(15):
        factories.product(manufacturer=maker)
    client = api_client(admin_user)

    # auth (token + user + permissions) + count + page + identifiers prefetch
    with django_assert_max_num_queries(8):
        response = client.get("/api/v1/products", {"limit": 50})

    assert response.json()["count"] == 15


def test_listing_materials_and_boms_takes_a_constant_number_of_queries(
    admin_user, api_client, django_assert_max_num_queries
) -> None:
    product = factories.product()
    for n in range(10):
        factories.bom(
            product_=product,
            version=f"V{n}",
            lines=[(factories.material(), "1"), (factories.material(), "2")],
        )
    client = api_client(admin_user)

    with django_assert_max_num_queries(8):
        boms = client.get("/api/v1/boms", {"limit": 50})
    with django_assert_max_num_queries(8):
        materials = client.get("/api/v1/materials", {"limit": 50})

    assert boms.json()["count"] == 10
    assert materials.json()["count"] == 20
