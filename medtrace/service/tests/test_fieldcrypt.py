"""medtrace.lib.fieldcrypt and medtrace.lib.personal: pure Python, no database."""

from __future__ import annotations

import base64
from datetime import date

import pytest

from medtrace.lib import personal
from medtrace.lib.fieldcrypt import FieldCipher, FieldCryptError

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
FIELD = "service.implantrecord.patient_name"


def test_a_value_round_trips_and_every_token_is_different() -> None:
    cipher = FieldCipher(KEY)

    first = cipher.encrypt("张三丰", field=FIELD)
    second = cipher.encrypt("张三丰", field=FIELD)

    assert first.startswith("v1:") and second.startswith("v1:")
    assert first != second  # a fresh 96-bit nonce every time
    assert "张三丰" not in first
    assert cipher.decrypt(first, field=FIELD) == "张三丰"
    assert cipher.decrypt(cipher.encrypt("", field=FIELD), field=FIELD) == ""


def test_a_tampered_token_is_refused_with_a_clear_error() -> None:
    cipher = FieldCipher(KEY)
    token = cipher.encrypt("13812345678", field=FIELD)
    raw = bytearray(base64.urlsafe_b64decode(token[3:]))
    raw[-1] ^= 0x01
    tampered = "v1:" + base64.urlsafe_b64encode(bytes(raw)).decode()

    with pytest.raises(FieldCryptError, match=r"cannot be decrypted.*altered"):
        cipher.decrypt(tampered, field=FIELD)


def test_the_wrong_key_is_refused_naming_the_variable() -> None:
    token = FieldCipher(KEY).encrypt("张三丰", field=FIELD)

    with pytest.raises(FieldCryptError, match="MEDTRACE_FIELD_KEY is not the key"):
        FieldCipher(OTHER_KEY).decrypt(token, field=FIELD)


def test_a_token_does_not_decrypt_as_another_column() -> None:
    cipher = FieldCipher(KEY)
    token = cipher.encrypt("张三丰", field=FIELD)

    with pytest.raises(FieldCryptError):
        cipher.decrypt(token, field="service.implantrecord.patient_phone")


@pytest.mark.parametrize("stored", ["张三丰", "v1:!!!", "v1:AAAA", ""])
def test_plain_text_or_garbage_in_the_column_is_refused(stored: str) -> None:
    with pytest.raises(FieldCryptError, match=FIELD):
        FieldCipher(KEY).decrypt(stored, field=FIELD)


def test_the_key_must_be_32_bytes() -> None:
    with pytest.raises(ValueError, match="exactly 32 bytes, got 16"):
        FieldCipher(b"x" * 16)
    assert "key hidden" in repr(FieldCipher(KEY))


def test_the_blind_index_is_stable_keyed_and_per_field() -> None:
    cipher = FieldCipher(KEY)

    index = cipher.blind_index("11010519491231002X", field="id")

    assert index == cipher.blind_index("11010519491231002X", field="id")
    assert len(index) == 64
    assert index != FieldCipher(OTHER_KEY).blind_index("11010519491231002X", field="id")
    assert index != cipher.blind_index("11010519491231002X", field="other")
    assert index != cipher.fingerprint("11010519491231002X", field="id")


@pytest.mark.parametrize(
    ("name", "masked"),
    [("张三丰", "张**"), ("张三", "张**"), ("John Smith", "J**"), (" 李 ", "李**"), ("", "")],
)
def test_names_are_masked_to_their_first_character(name: str, masked: str) -> None:
    assert personal.mask_name(name) == masked


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("11010519491231002X", "**************002X"),
        ("E12345678", "*****5678"),
        ("1234567890121234", "************1234"),
        ("AB123", "*****"),
        ("", ""),
    ],
)
def test_id_numbers_keep_only_their_last_four_characters(number: str, masked: str) -> None:
    assert personal.mask_id_number(number) == masked


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("13812345678", "138****5678"),
        ("138 1234 5678", "138****5678"),
        ("+8613812345678", "+86*******5678"),
        ("12345", "*****"),
        ("", ""),
    ],
)
def test_phones_keep_the_first_three_and_last_four_digits(phone: str, masked: str) -> None:
    assert personal.mask_phone(phone) == masked


@pytest.mark.parametrize(
    ("number", "problem"),
    [
        ("11010519491231002X", None),
        ("E12345678", None),  # passport
        ("110105491231002", None),  # first-generation resident ID
        ("110105194912310021", "check character is 1; the first 17 digits give X"),
        ("110105194913310021", "not a real date"),
        ("110105209912310029", "not plausible"),
        ("1101051949123100", "has 16 digits"),
        ("11010519491231002Y", "last character is not a digit or X"),
        ("张三", "expected a resident ID number"),
        ("", "empty"),
    ],
)
def test_id_numbers_are_checked_like_resident_ids_when_they_look_like_one(
    number: str, problem: str | None
) -> None:
    found = personal.id_number_problem(number, today=date(2026, 1, 1))
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found
        assert number not in found or not number  # messages never quote the value


def test_phone_numbers_are_checked() -> None:
    assert personal.phone_problem("13812345678") is None
    assert personal.phone_problem("05126789012") is None  # landline with area code
    assert personal.phone_problem("") is None
    assert "13 to 19" in (personal.phone_problem("12812345678") or "")
    assert "expected digits" in (personal.phone_problem("call me") or "")
