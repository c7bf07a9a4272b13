"""DI data for China's UDI database (国家医疗器械唯一标识数据库, NMPA UDID).

The fields are the product-identifier data set of YY/T 1752-2020 (基本数据集) as the database
names them in its batch upload and its public data (the lower-case pinyin initials below are
those names: zxxsdycpbs = 最小销售单元产品标识). Headers and yes/no values are the database's own
Chinese text; they are data, not UI strings, so they are not translated.

Mapping notes:
- 最小销售单元 is the product's base-unit DI (medtrace's packaging level ``unit``, quantity 1),
  so 最小销售单元中使用单元的数量 is 1 and 使用单元产品标识 stays empty (it is only filled when a
  sales unit holds several use units).
- 产品标识编码体系名称: the database accepts GS1, MA (IDcode) and AHM; an HIBCC product cannot be
  registered there and is reported invalid.
- 标识载体: the labels medtrace prints are two-dimensional (GS1 DataMatrix or Digital Link QR).
- 原分类编码 / 分类编码: a pre-2017 68xx code goes to the former, a 2017 code (14-02-01) to the
  latter.
- 生产标识 (lot, serial, production and expiry dates) are per unit and carried in the UDI-PI:
  the DI record only says which of them the label carries (``udi_pi_elements``).
"""

from __future__ import annotations

import re
from typing import Any

from medtrace.masterdata.models import IssuingAgency, MriSafety, PackagingLevel

from .di_common import (
    DeviceData,
    DiFormat,
    Spec,
    SubList,
    contains_count,
    date_text,
    package_check,
    yes_no,
)

YES, NO = "是", "否"

_LEVEL_TEXT = {
    PackagingLevel.PACK: "中包装",
    PackagingLevel.CASE: "箱",
    PackagingLevel.PALLET: "托盘",
}
_MRI_TEXT = {
    MriSafety.MR_SAFE: "MR安全",
    MriSafety.MR_CONDITIONAL: "MR条件安全",
    MriSafety.MR_UNSAFE: "MR不安全",
    MriSafety.NOT_LABELLED: "说明书或标签上面不包括MR安全信息",
}
_CODING_SYSTEM: dict[str, str] = {IssuingAgency.GS1: "GS1"}
_OLD_CLASS = re.compile(r"68\d{2}")
_STORAGE_TEXT = {"temperature": "温度", "humidity": "湿度"}
_UNIT_TEXT = {"Cel": "℃", "%RH": "%RH"}
_PHASE_TEXT = {"storage": "储存", "all": "储存和运输"}


def _yn(value: bool | None) -> str | None:
    return yes_no(value, YES, NO)


def _direct_same(d: DeviceData) -> str | None:
    if not d.product.direct_marking:
        return "" if d.product.direct_marking is False else None
    other = d.product.direct_marking_di
    return YES if not other or other == d.unit_di else NO


def _direct_di(d: DeviceData) -> str:
    if d.product.direct_marking and d.product.direct_marking_di not in ("", d.unit_di):
        return d.product.direct_marking_di
    return ""


def _old_class(d: DeviceData) -> str:
    code = d.product.classification_code
    return code if _OLD_CLASS.fullmatch(code or "") else ""


def _new_class(d: DeviceData) -> str:
    code = d.product.classification_code
    return "" if _OLD_CLASS.fullmatch(code or "") else code


def _imported(d: DeviceData) -> bool:
    return "械注进" in (d.product.nmpa_registration_no or "")


def _packing(d: DeviceData) -> list[dict[str, Any]]:
    return [
        {
            "bzcpbs": package.di,
            "cpbzjb": _LEVEL_TEXT.get(PackagingLevel(package.packaging_level), ""),
            "bznhxyjcpbssl": contains_count(package, lower),
            "bznhxyjbzcpbs": lower.di if lower is not None else "",
        }
        for package, lower in d.packages
    ]


def _storage(d: DeviceData) -> list[dict[str, Any]]:
    return [
        {
            "cchcztj": _PHASE_TEXT.get(limit.phase, "") + _STORAGE_TEXT[limit.measurement],
            "zdz": limit.low,
            "zgz": limit.high,
            "jldw": _UNIT_TEXT[limit.unit],
        }
        for limit in d.storage
    ]


def _agency_check(d: DeviceData) -> list[tuple[str, str]]:
    if d.product.issuing_agency not in _CODING_SYSTEM:
        return [
            (
                "cpbsbmtxmc",
                f"产品标识编码体系名称: the NMPA UDI database accepts GS1, MA and AHM codes; "
                f"{d.product.get_issuing_agency_display()} DIs cannot be registered there",
            )
        ]
    return []


SPECS: tuple[Spec, ...] = (
    Spec("zxxsdycpbs", "最小销售单元产品标识", lambda d: d.unit_di, "identifiers (unit DI)", True),
    Spec(
        "cpbsbmtxmc", "产品标识编码体系名称",
        lambda d: _CODING_SYSTEM.get(d.product.issuing_agency, ""), "issuing_agency", True,
    ),
    Spec(
        "zxxsdyzsydydsl", "最小销售单元中使用单元的数量",
        lambda d: d.unit.quantity if d.unit else None, "identifiers (unit quantity)", True,
    ),
    Spec("sydycpbs", "使用单元产品标识", lambda d: "", "identifiers (unit DI)"),
    Spec("bszt", "标识载体", lambda d: "二维码", "labels (GS1 DataMatrix / QR)", True),
    Spec(
        "cpbsfbrq", "产品标识发布日期",
        lambda d: date_text(d.product.udi_published_on), "udi_published_on", True,
    ),
    Spec("sfybtzjbs", "是否有本体直接标识", lambda d: _yn(d.product.direct_marking),
         "direct_marking", True),
    Spec(
        "btcpbsyzxxsdycpbssfyz", "本体产品标识与最小销售单元产品标识是否一致", _direct_same,
        "direct_marking, direct_marking_di", lambda d: bool(d.product.direct_marking),
    ),
    Spec("btcpbs", "本体产品标识", _direct_di, "direct_marking_di"),
    Spec("cpmctymc", "产品名称/通用名称", lambda d: d.product.name, "name", True),
    Spec("spmc", "商品名称", lambda d: d.product.trade_name, "trade_name"),
    Spec("ggxh", "规格型号", lambda d: d.product.model, "model", True),
    Spec("sfwblztlcp", "是否为包类/组套类产品", lambda d: _yn(d.product.is_kit), "is_kit", True),
    Spec("cpms", "产品描述", lambda d: d.product.description, "description", True),
    Spec("cphhhbh", "产品货号或编号", lambda d: d.product.catalog_number, "catalog_number"),
    Spec("yflbm", "原分类编码", _old_class, "classification_code (68xx)"),
    Spec("flbm", "分类编码", _new_class, "classification_code", True),
    Spec("cplb", "产品类别", lambda d: None, "", note="器械 or 体外诊断试剂: not kept in medtrace"),
    Spec("ylqxzcrbarmc", "注册人/备案人名称", lambda d: d.maker.name, "manufacturer.name", True),
    Spec("ylqxzcrbarywmc", "注册人/备案人英文名称", lambda d: d.maker.name_en,
         "manufacturer.name_en"),
    Spec(
        "tyshxydm", "统一社会信用代码", lambda d: d.maker.uscc, "manufacturer.uscc",
        lambda d: not _imported(d),
    ),
    Spec(
        "zczbhhzbapzbh", "医疗器械注册证编号或者备案凭证编号",
        lambda d: d.product.nmpa_registration_no, "nmpa_registration_no", True,
    ),
    Spec(
        "cgzmraqxgxx", "磁共振（MR）安全相关信息",
        lambda d: _MRI_TEXT.get(MriSafety(d.product.mri_safety)) if d.product.mri_safety else "",
        "mri_safety", True,
    ),
    Spec("sfbjwycxsy", "是否标记为一次性使用", lambda d: _yn(d.product.single_use), "single_use",
         True),
    Spec("zdcfsycs", "最大重复使用次数", lambda d: d.product.max_reuses, "max_reuses"),
    Spec("sfwwjbz", "是否为无菌包装", lambda d: _yn(d.product.sterile), "sterile", True),
    Spec(
        "syqsfxyjxmj", "使用前是否需要进行灭菌", lambda d: _yn(d.product.sterilize_before_use),
        "sterilize_before_use", True,
    ),
    Spec(
        "mjfs", "灭菌方式", lambda d: d.product.sterilization_method, "sterilization_method",
        lambda d: bool(d.product.sterilize_before_use),
    ),
    Spec("qtxxdwzlj", "其他信息的网址链接", lambda d: None, "", note="not kept in medtrace"),
    Spec("ybbm", "医保耗材分类编码", lambda d: d.product.nhsa_code, "nhsa_code"),
    Spec("scbssfbhph", "生产标识是否包含批号", lambda d: _yn(d.pi("lot")), "udi_pi_elements", True),
    Spec("scbssfbhxlh", "生产标识是否包含序列号", lambda d: _yn(d.pi("serial")), "udi_pi_elements",
         True),
    Spec("scbssfbhscrq", "生产标识是否包含生产日期", lambda d: _yn(d.pi("manufactured")),
         "udi_pi_elements", True),
    Spec("scbssfbhsxrq", "生产标识是否包含失效日期", lambda d: _yn(d.pi("expiry")),
         "udi_pi_elements", True),
    Spec("tscchcztj", "特殊储存或操作条件", lambda d: d.product.storage_conditions,
         "storage_conditions"),
    Spec("tsccsm", "特殊尺寸说明", lambda d: None, "", note="clinical sizes: not kept in medtrace"),
    Spec("tsrq", "退市日期", lambda d: None, "", note="withdrawal date: not kept in medtrace"),
)  # fmt: skip

PACKING = SubList(
    "packingList",
    "包装标识",
    (
        ("bzcpbs", "包装产品标识"),
        ("cpbzjb", "产品包装级别"),
        ("bznhxyjcpbssl", "包装内含小一级产品标识数量"),
        ("bznhxyjbzcpbs", "包装内含小一级包装产品标识"),
    ),
    _packing,
)
STORAGE = SubList(
    "storageList",
    "储存或操作条件",
    (("cchcztj", "储存或操作条件"), ("zdz", "最低值"), ("zgz", "最高值"), ("jldw", "计量单位")),
    _storage,
)

CN_UDI_DI = DiFormat(
    name="cn-udi-di",
    title="医疗器械唯一标识产品标识数据",
    standard="NMPA UDID, YY/T 1752-2020 / YY/T 1753-2020",
    specs=SPECS,
    lists=(PACKING, STORAGE),
    checks=(package_check, _agency_check),
    key_field="zxxsdycpbs",
)
