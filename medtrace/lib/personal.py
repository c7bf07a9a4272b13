"""Personal data of patients: normalising, checking and masking. Pure Python, no Django.

Masked forms are what every list, page and API answer shows by default (DESIGN §8):

- a name keeps its first character: 张三丰 -> 张**, John Smith -> J**;
- an ID number keeps its last 4 characters: 110101199003074578 -> **************4578 (values
  shorter than 8 characters are masked whole);
- a phone number keeps its first 3 and last 4 digits: 13812345678 -> 138****5678 (shorter than
  8 characters: masked whole).

Check functions return a problem as text (English, for the caller to wrap) or None, and never
quote the value itself, so the message can be logged.
"""

from __future__ import annotations

import re
from datetime import date

__all__ = [
    "id_number_problem",
    "mask_id_number",
    "mask_name",
    "mask_phone",
    "normalize_id_number",
    "normalize_phone",
    "phone_problem",
]

MASK = "*"

# GB 11643-1999 (居民身份证号码): 17 digits weighted mod 11, the check character from this table.
_RESIDENT_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_RESIDENT_ID_CHECK = "10X98765432"
_RESIDENT_ID = re.compile(r"\d{17}[\dX]")
_OLD_RESIDENT_ID = re.compile(r"\d{15}")  # first-generation cards: YYMMDD birth date, no check
# Passports, HK/Macau/Taiwan travel permits, foreign IDs: letters and digits.
_DOCUMENT_NUMBER = re.compile(r"[A-Z0-9]{5,20}")
_PHONE = re.compile(r"\+?\d{5,20}")
_PHONE_SEPARATORS = re.compile(r"[\s\-().]")


def mask_name(name: str | None) -> str:
    text = (name or "").strip()
    return text[0] + MASK * 2 if text else ""


def mask_id_number(number: str | None) -> str:
    text = (number or "").strip()
    if not text:
        return ""
    if len(text) < 8:
        return MASK * len(text)
    return MASK * (len(text) - 4) + text[-4:]


def mask_phone(phone: str | None) -> str:
    text = normalize_phone(phone)
    if not text:
        return ""
    if len(text) < 8:
        return MASK * len(text)
    return text[:3] + MASK * (len(text) - 7) + text[-4:]


def normalize_id_number(number: str | None) -> str:
    """Upper case without spaces: the one spelling that is stored and blind-indexed."""
    return re.sub(r"\s+", "", number or "").upper()


def normalize_phone(phone: str | None) -> str:
    return _PHONE_SEPARATORS.sub("", phone or "")


def resident_id_check_char(first17: str) -> str:
    total = sum(int(c) * w for c, w in zip(first17, _RESIDENT_ID_WEIGHTS, strict=True))
    return _RESIDENT_ID_CHECK[total % 11]


def _birth_date_problem(year: int, month: int, day: int, *, today: date) -> str | None:
    try:
        born = date(year, month, day)
    except ValueError:
        return "its birth date (digits 7 to 14) is not a real date"
    if born > today or born.year < 1880:
        return "its birth date (digits 7 to 14) is not plausible"
    return None


def id_number_problem(number: str, *, today: date | None = None) -> str | None:
    """What is wrong with a normalised ID number, or None.

    A value that looks like a Chinese resident ID (18 characters: 17 digits and a check digit or
    X) must have the right check character and a real birth date. A 15-digit first-generation
    number must carry a real birth date. Anything else is taken as a passport or other document
    number: 5 to 20 letters and digits. An all-digit value of 16, 17 or 19 digits is refused as
    a mistyped resident ID.
    """
    today = today or date.today()
    if not number:
        return "it is empty"
    if _RESIDENT_ID.fullmatch(number):
        expected = resident_id_check_char(number[:17])
        if number[17] != expected:
            return (
                f"it looks like a resident ID number, but its check character is {number[17]}; "
                f"the first 17 digits give {expected} (GB 11643)"
            )
        return _birth_date_problem(
            int(number[6:10]), int(number[10:12]), int(number[12:14]), today=today
        )
    if _OLD_RESIDENT_ID.fullmatch(number):
        return _birth_date_problem(
            1900 + int(number[6:8]), int(number[8:10]), int(number[10:12]), today=today
        )
    if number.isdigit() and 16 <= len(number) <= 19:
        return (
            f"it has {len(number)} digits: a resident ID number has 18 (the last may be X), "
            "a first-generation one 15"
        )
    if len(number) == 18 and number[:17].isdigit():
        return "it looks like a resident ID number, but its last character is not a digit or X"
    if not _DOCUMENT_NUMBER.fullmatch(number):
        return (
            "expected a resident ID number (18 characters) or a passport or other document "
            "number of 5 to 20 letters and digits"
        )
    return None


def phone_problem(phone: str) -> str | None:
    """What is wrong with a normalised phone number (blank is allowed), or None."""
    if not phone:
        return None
    if not _PHONE.fullmatch(phone):
        return "expected digits, optionally with a leading + and spaces or dashes (5 to 20 digits)"
    mobile = phone.isdigit() and len(phone) == 11 and phone.startswith("1")
    if mobile and not re.fullmatch(r"1[3-9]\d{9}", phone):
        return "an 11-digit mainland mobile number starts with 13 to 19"
    return None
