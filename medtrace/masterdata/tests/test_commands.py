from __future__ import annotations

import io
from pathlib import Path

import pytest
import zxingcpp
from django.core.management import CommandError, call_command
from PIL import Image

from medtrace.cli import cli_language, main

from . import factories

pytestmark = pytest.mark.django_db


def test_the_label_command_renders_a_scannable_label_from_a_udi(tmp_path: Path) -> None:
    product = factories.product(udi_pi_elements=["expiry", "lot"], tracking="lot")
    di = product.identifiers.get().di
    out = tmp_path / "label.png"

    call_command("label", f"(01){di}(17)271231(10)LOT-7", "-o", str(out), stderr=io.StringIO())

    decoded = zxingcpp.read_barcodes(Image.open(out))
    assert [d.text for d in decoded] == [f"(01){di}(17)271231(10)LOT-7"]


def test_the_label_command_renders_a_digital_link_qr_from_product_fields(
    tmp_path: Path,
) -> None:
    product = factories.product(udi_pi_elements=["serial"])
    di = product.identifiers.get().di
    out = tmp_path / "label.png"

    call_command(
        "label", "--product", di, "--serial", "SN9", "--qr", "-o", str(out), stderr=io.StringIO()
    )

    decoded = zxingcpp.read_barcodes(Image.open(out))
    assert [d.text for d in decoded] == [f"https://id.gs1.org/01/{di}/21/SN9"]


def test_the_label_command_explains_a_missing_serial() -> None:
    product = factories.product(udi_pi_elements=["serial"])

    with pytest.raises(CommandError, match="serial: required"):
        call_command("label", "--product", product.identifiers.get().di)


def test_the_label_command_refuses_an_unknown_di() -> None:
    with pytest.raises(CommandError, match="belongs to no product"):
        call_command("label", "(01)00844588003288(21)X")


def test_the_console_script_is_manage_py(capsys: pytest.CaptureFixture[str]) -> None:
    main(["help", "demo"])

    assert "--units" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"LANG": "zh_CN.UTF-8"}, "zh-hans"),
        ({"LANG": "en_US.UTF-8"}, "en"),
        ({"LC_ALL": "zh_TW.UTF-8", "LANG": "en_US.UTF-8"}, "zh-hans"),
        ({}, "en"),
    ],
)
def test_the_command_line_speaks_the_shells_language(env: dict[str, str], expected: str) -> None:
    assert cli_language(env) == expected
