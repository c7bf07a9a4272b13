"""Field validators for master data, built on `medtrace.lib.udi`.

Each raises Django's ValidationError with a message that says what was expected, so the admin and
the API show the same text next to the field.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from medtrace.lib import udi

HIBC_LIC_RE = re.compile(r"^[A-Z][A-Z0-9]{3}$")
HIBC_PCN_RE = re.compile(r"^[A-Z0-9]{1,18}$")
# NMPA registration certificate (注册证) and filing (备案) numbers, e.g. 国械注准20203140123,
# 国械注进20173460512, 粤械注准20182150017, 沪松械备20150012号.
NMPA_REG_RE = re.compile(r"^[\u4e00-\u9fff]{1,4}械(注[准进许]|备)\d{8,12}号?$")
# 医保医用耗材分类与代码: "C" followed by 19 digits (20 characters).
NHSA_CODE_RE = re.compile(r"^C\d{19}$")
# 医疗器械分类目录 (2017) code, e.g. 14-02-01; older catalogue 68xx codes are accepted too.
NMPA_CLASS_RE = re.compile(r"^(\d{2}(-\d{2}){1,2}|68\d{2})$")
GMDN_RE = re.compile(r"^\d{5}$")
DUNS_RE = re.compile(r"^\d{9}$")
# EUDAMED single registration number: country, actor type, 9 digits (e.g. CN-MF-000012345).
SRN_RE = re.compile(r"^[A-Z]{2}-(MF|AR|IM|PR)-\d{9}$")
FDA_PRODUCT_CODE_RE = re.compile(r"^[A-Z]{3}$")
# A Basic UDI-DI is built like a GS1 GMN (AI 8013) or an HIBC/ICCBBA/IFA key: up to 25
# characters of capitals, digits and a few separators.
BASIC_UDI_DI_RE = re.compile(r"^[A-Z0-9][A-Z0-9.+\-/]{0,24}$")
# Unified social credit code (统一社会信用代码), GB 32100-2015.
USCC_RE = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$")
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def validate_gln(value: str) -> None:
    if not re.fullmatch(r"\d{13}", value or ""):
        raise ValidationError(
            _("A GLN has exactly 13 digits; got %(n)d characters.") % {"n": len(value or "")},
            code="gln_format",
        )
    expected = udi.gs1_check_digit(value[:-1])
    if value[-1] != expected:
        raise ValidationError(
            _("GLN check digit should be %(exp)s, got %(got)s.")
            % {"exp": expected, "got": value[-1]},
            code="gln_check_digit",
        )


def validate_gtin14(value: str) -> None:
    if not re.fullmatch(r"\d{14}", value or ""):
        raise ValidationError(
            _("A GTIN is stored as 14 digits (pad GTIN-8/12/13 with leading zeros); got %(v)r.")
            % {"v": value},
            code="gtin_format",
        )
    expected = udi.gs1_check_digit(value[:-1])
    if value[-1] != expected:
        raise ValidationError(
            _("GTIN check digit should be %(exp)s, got %(got)s.")
            % {"exp": expected, "got": value[-1]},
            code="gtin_check_digit",
        )


def validate_nmpa_registration(value: str) -> None:
    if not NMPA_REG_RE.fullmatch(value):
        raise ValidationError(
            _(
                "Not an NMPA registration or filing number: expected e.g. 国械注准20203140123 "
                "(registration) or 沪松械备20150012号 (filing)."
            ),
            code="nmpa_registration_format",
        )


def validate_nhsa_code(value: str) -> None:
    if not NHSA_CODE_RE.fullmatch(value):
        raise ValidationError(
            _("医保耗材编码 is 20 characters: 'C' followed by 19 digits; got %(v)r.")
            % {"v": value},
            code="nhsa_code_format",
        )


def validate_nmpa_classification(value: str) -> None:
    if not NMPA_CLASS_RE.fullmatch(value):
        raise ValidationError(
            _("分类编码 should look like 14-02-01 (2017 catalogue) or 6866; got %(v)r.")
            % {"v": value},
            code="classification_format",
        )


def validate_gmdn(value: str) -> None:
    if not GMDN_RE.fullmatch(value):
        raise ValidationError(
            _("A GMDN term code has 5 digits; got %(v)r.") % {"v": value}, code="gmdn_format"
        )


def validate_uscc(value: str) -> None:
    if not USCC_RE.fullmatch(value):
        raise ValidationError(
            _("统一社会信用代码 has 18 characters (digits and capitals except I, O, S, V, Z)."),
            code="uscc_format",
        )
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(value[:17], USCC_WEIGHTS, strict=True))
    expected = USCC_ALPHABET[(31 - total % 31) % 31]
    if value[17] != expected:
        raise ValidationError(
            _("统一社会信用代码 check character should be %(exp)s, got %(got)s.")
            % {"exp": expected, "got": value[17]},
            code="uscc_check",
        )


def validate_gcp_length(value: int) -> None:
    if not 4 <= value <= 12:
        raise ValidationError(
            _("A GS1 company prefix has 4 to 12 digits; got %(v)d.") % {"v": value},
            code="gcp_length_range",
        )


def validate_duns(value: str) -> None:
    if not DUNS_RE.fullmatch(value):
        raise ValidationError(_("A DUNS number has 9 digits; got %(v)r.") % {"v": value})


def validate_srn(value: str) -> None:
    if not SRN_RE.fullmatch(value):
        raise ValidationError(
            _("An EUDAMED SRN looks like CN-MF-000012345 (country, actor type, 9 digits).")
        )


def validate_fda_product_code(value: str) -> None:
    if not FDA_PRODUCT_CODE_RE.fullmatch(value):
        raise ValidationError(
            _("An FDA product code is 3 capital letters, e.g. FRN; got %(v)r.") % {"v": value}
        )


def validate_basic_udi_di(value: str) -> None:
    if not BASIC_UDI_DI_RE.fullmatch(value):
        raise ValidationError(
            _(
                "A Basic UDI-DI has 1 to 25 capitals, digits or . + - /, e.g. "
                "69012340000IP9XY; got %(v)r."
            )
            % {"v": value}
        )
