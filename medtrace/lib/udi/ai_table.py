"""Our own table of GS1 Application Identifier (AI) rules.

Every entry restates one line of the GS1 Barcode Syntax Dictionary, release 2026-01-27
(https://github.com/gs1/gs1-syntax-dictionary, tag ``2026-01-27``):

    Copyright (c) 2020-2021 BWIPP project. https://bwipp.terryburton.co.uk/
    Copyright (c) 2020-2021 Zint Project. https://zint.org.uk/
    Copyright (c) 2021-2025 GS1 AISBL
    Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).

Modifications: the entries are restated as Python data (the format components, linters,
``req=``/``ex=``/``dlpkey`` attributes and titles are kept as in the dictionary). The runtime never
reads the dictionary file: a user's install has no ``shared/``.
``medtrace/lib/tests/test_ai_table.py`` proves, entry by entry, that this table agrees with the
copy in ``../shared/conformance/gs1-barcodes/``.

Notation kept from the dictionary:

* flags: ``*`` pre-defined length (no FNC1 separator needed after it), ``?`` allowed as a GS1
  Digital Link data attribute (query string);
* components: ``N`` digits, ``X`` CSET 82, ``Y`` CSET 39, ``Z`` CSET 64 (base64url); ``N14`` is a
  fixed length, ``X..20`` means 1 to 20 characters, ``opt(...)`` is an optional component;
* ``req``: each ``req=`` attribute must be satisfied on its own; within one attribute the
  comma-separated alternatives are OR-ed and ``+`` joins AIs that must all be present;
* ``ex``: AIs that must not appear in the same message (``n`` matches any digit; an AI is never
  exclusive of itself);
* ``dl``: GS1 Digital Link primary key; the value lists the ordered optional key qualifiers, with
  ``|`` separating alternative sequences (``""`` = key without qualifiers, ``None`` = not a key).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

DICTIONARY_RELEASE = "2026-01-27"


@dataclass(frozen=True)
class Component:
    """One component of an AI's data field, e.g. ``N14,csum`` or ``[X..17]``."""

    cset: str
    min_length: int
    max_length: int
    optional: bool = False
    linters: tuple[str, ...] = ()

    @property
    def fixed(self) -> bool:
        return self.min_length == self.max_length

    @property
    def spec(self) -> str:
        """The component written as in the dictionary, without linters (``N14``, ``X..20``)."""
        text = f"{self.cset}{self.max_length}" if self.fixed else f"{self.cset}..{self.max_length}"
        return f"[{text}]" if self.optional else text


@dataclass(frozen=True)
class AiRule:
    """The rules for one AI, or for a range of AIs that share them (``3100-3105``)."""

    first: str
    last: str
    predefined_length: bool
    dl_data_attribute: bool
    components: tuple[Component, ...]
    req: tuple[tuple[tuple[str, ...], ...], ...]
    ex: tuple[str, ...]
    dlpkey: tuple[tuple[str, ...], ...] | None
    title: str

    @property
    def format(self) -> str:
        """The data format as the dictionary writes it, e.g. ``N3 X..9``."""
        return " ".join(component.spec for component in self.components)

    @cached_property
    def fixed_length(self) -> int | None:
        """Total data length when every component is mandatory and fixed, else None."""
        if all(c.fixed and not c.optional for c in self.components):
            return sum(c.max_length for c in self.components)
        return None

    @property
    def max_length(self) -> int:
        return sum(c.max_length for c in self.components)

    @property
    def ais(self) -> tuple[str, ...]:
        """Every AI this entry covers."""
        width = len(self.first)
        return tuple(str(n).zfill(width) for n in range(int(self.first), int(self.last) + 1))


def _component(cset: str, low: int, high: int, linters: tuple[str, ...]) -> Component:
    return Component(cset=cset, min_length=low, max_length=high, linters=linters)


# Component constructors named after the dictionary notation (N14, N..8, X..20, ...).
def N(length: int, *linters: str) -> Component:
    return _component("N", length, length, linters)


def Nv(max_length: int, *linters: str) -> Component:
    return _component("N", 1, max_length, linters)


def X(length: int, *linters: str) -> Component:
    return _component("X", length, length, linters)


def Xv(max_length: int, *linters: str) -> Component:
    return _component("X", 1, max_length, linters)


def Yv(max_length: int, *linters: str) -> Component:
    return _component("Y", 1, max_length, linters)


def Zv(max_length: int, *linters: str) -> Component:
    return _component("Z", 1, max_length, linters)


def opt(component: Component) -> Component:
    return Component(
        cset=component.cset,
        min_length=component.min_length,
        max_length=component.max_length,
        optional=True,
        linters=component.linters,
    )


def _alternatives(text: str) -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(alternative.split("+")) for alternative in text.split(","))


def _ai(
    ais: str,
    flags: str,
    components: list[Component],
    *,
    req: str | tuple[str, ...] = (),
    ex: str = "",
    dl: str | None = None,
    t: str = "",
) -> AiRule:
    first, _, last = ais.partition("-")
    req_attributes = (req,) if isinstance(req, str) else req
    return AiRule(
        first=first,
        last=last or first,
        predefined_length="*" in flags,
        dl_data_attribute="?" in flags,
        components=tuple(components),
        req=tuple(_alternatives(attribute) for attribute in req_attributes),
        ex=tuple(ex.split(",")) if ex else (),
        dlpkey=None
        if dl is None
        else tuple(tuple(s.split(",")) if s else () for s in dl.split("|")),
        title=t,
    )


# One line per dictionary entry, in the dictionary's (lexical) order.
AI_ENTRIES: tuple[AiRule, ...] = (
    _ai("00", "*?", [N(18, "csum", "gcppos2")], dl="", t="SSCC"),
    _ai("01", "*?", [N(14, "csum", "gcppos2")], ex="255,37", dl="22,10,21|235", t="GTIN"),
    _ai("02", "*?", [N(14, "csum", "gcppos2")], req="37", ex="01,03", t="CONTENT"),
    _ai("03", "*", [N(14, "csum", "gcppos2")], ex="01,02,37", t="MTO GTIN"),
    _ai("10", "?", [Xv(20)], req="01,02,03,8006,8026", t="BATCH/LOT"),
    _ai("11", "*?", [N(6, "yymmd0")], req="01,02,03,8006,8026", t="PROD DATE"),
    _ai("12", "*?", [N(6, "yymmd0")], req="8020", t="DUE DATE"),
    _ai("13", "*?", [N(6, "yymmd0")], req="01,02,03,8006,8026", t="PACK DATE"),
    _ai("15", "*?", [N(6, "yymmd0")], req="01,02,03,8006,8026", t="BEST BEFORE or BEST BY"),
    _ai("16", "*?", [N(6, "yymmd0")], req="01,02,03,8006,8026", t="SELL BY"),
    _ai("17", "*?", [N(6, "yymmd0")], req="01,02,03,255,8006,8026", t="USE BY or EXPIRY"),
    _ai("20", "*?", [N(2)], req="01,02,8006,8026", t="VARIANT"),
    _ai("21", "", [Xv(20)], req="01,03,8006", ex="235", t="SERIAL"),
    _ai("22", "", [Xv(20)], req="01", t="CPV"),
    _ai("235", "", [Xv(28)], req="01", t="TPX"),
    _ai("240", "?", [Xv(30)], req="01,02,8006,8026", t="ADDITIONAL ID"),
    _ai("241", "?", [Xv(30)], req="01,02,8006,8026", t="CUST. PART No."),
    _ai("242", "?", [Nv(6)], req="01,02,8006,8026", t="MTO VARIANT"),
    _ai("243", "?", [Xv(20)], req="01", t="PCN"),
    _ai("250", "?", [Xv(30)], req=("01,8006", "21"), t="SECONDARY SERIAL"),
    _ai("251", "?", [Xv(30)], req="01,8006", t="REF. TO SOURCE"),
    _ai("253", "?", [N(13, "csum", "gcppos1"), opt(Xv(17))], dl="", t="GDTI"),
    _ai("254", "", [Xv(20)], req="414", t="GLN EXTENSION COMPONENT"),
    _ai(
        "255",
        "?",
        [N(13, "csum", "gcppos1"), opt(Nv(12))],
        ex="01,02,415,8006,8020,8026",
        dl="",
        t="GCN",
    ),
    _ai("30", "?", [Nv(8)], req="01,02", t="VAR. COUNT"),
    _ai("3100-3105", "*?", [N(6)], req="01,02", ex="310n", t="NET WEIGHT (kg)"),
    _ai("3110-3115", "*?", [N(6)], req="01,02", ex="311n", t="LENGTH (m)"),
    _ai("3120-3125", "*?", [N(6)], req="01,02", ex="312n", t="WIDTH (m)"),
    _ai("3130-3135", "*?", [N(6)], req="01,02", ex="313n", t="HEIGHT (m)"),
    _ai("3140-3145", "*?", [N(6)], req="01,02", ex="314n", t="AREA (m²)"),
    _ai("3150-3155", "*?", [N(6)], req="01,02", ex="315n", t="NET VOLUME (l)"),
    _ai("3160-3165", "*?", [N(6)], req="01,02", ex="316n", t="NET VOLUME (m³)"),
    _ai("3200-3205", "*?", [N(6)], req="01,02", ex="320n", t="NET WEIGHT (lb)"),
    _ai("3210-3215", "*?", [N(6)], req="01,02", ex="321n", t="LENGTH (in)"),
    _ai("3220-3225", "*?", [N(6)], req="01,02", ex="322n", t="LENGTH (ft)"),
    _ai("3230-3235", "*?", [N(6)], req="01,02", ex="323n", t="LENGTH (yd)"),
    _ai("3240-3245", "*?", [N(6)], req="01,02", ex="324n", t="WIDTH (in)"),
    _ai("3250-3255", "*?", [N(6)], req="01,02", ex="325n", t="WIDTH (ft)"),
    _ai("3260-3265", "*?", [N(6)], req="01,02", ex="326n", t="WIDTH (yd)"),
    _ai("3270-3275", "*?", [N(6)], req="01,02", ex="327n", t="HEIGHT (in)"),
    _ai("3280-3285", "*?", [N(6)], req="01,02", ex="328n", t="HEIGHT (ft)"),
    _ai("3290-3295", "*?", [N(6)], req="01,02", ex="329n", t="HEIGHT (yd)"),
    _ai("3300-3305", "*?", [N(6)], req="00,01", ex="330n", t="GROSS WEIGHT (kg)"),
    _ai("3310-3315", "*?", [N(6)], req="00,01", ex="331n", t="LENGTH (m), log"),
    _ai("3320-3325", "*?", [N(6)], req="00,01", ex="332n", t="WIDTH (m), log"),
    _ai("3330-3335", "*?", [N(6)], req="00,01", ex="333n", t="HEIGHT (m), log"),
    _ai("3340-3345", "*?", [N(6)], req="00,01", ex="334n", t="AREA (m²), log"),
    _ai("3350-3355", "*?", [N(6)], req="00,01", ex="335n", t="VOLUME (l), log"),
    _ai("3360-3365", "*?", [N(6)], req="00,01", ex="336n", t="VOLUME (m³), log"),
    _ai("3370-3375", "*?", [N(6)], req="01", ex="337n", t="KG PER m²"),
    _ai("3400-3405", "*?", [N(6)], req="00,01", ex="340n", t="GROSS WEIGHT (lb)"),
    _ai("3410-3415", "*?", [N(6)], req="00,01", ex="341n", t="LENGTH (in), log"),
    _ai("3420-3425", "*?", [N(6)], req="00,01", ex="342n", t="LENGTH (ft), log"),
    _ai("3430-3435", "*?", [N(6)], req="00,01", ex="343n", t="LENGTH (yd), log"),
    _ai("3440-3445", "*?", [N(6)], req="00,01", ex="344n", t="WIDTH (in), log"),
    _ai("3450-3455", "*?", [N(6)], req="00,01", ex="345n", t="WIDTH (ft), log"),
    _ai("3460-3465", "*?", [N(6)], req="00,01", ex="346n", t="WIDTH (yd), log"),
    _ai("3470-3475", "*?", [N(6)], req="00,01", ex="347n", t="HEIGHT (in), log"),
    _ai("3480-3485", "*?", [N(6)], req="00,01", ex="348n", t="HEIGHT (ft), log"),
    _ai("3490-3495", "*?", [N(6)], req="00,01", ex="349n", t="HEIGHT (yd), log"),
    _ai("3500-3505", "*?", [N(6)], req="01,02", ex="350n", t="AREA (in²)"),
    _ai("3510-3515", "*?", [N(6)], req="01,02", ex="351n", t="AREA (ft²)"),
    _ai("3520-3525", "*?", [N(6)], req="01,02", ex="352n", t="AREA (yd²)"),
    _ai("3530-3535", "*?", [N(6)], req="00,01", ex="353n", t="AREA (in²), log"),
    _ai("3540-3545", "*?", [N(6)], req="00,01", ex="354n", t="AREA (ft²), log"),
    _ai("3550-3555", "*?", [N(6)], req="00,01", ex="355n", t="AREA (yd²), log"),
    _ai("3560-3565", "*?", [N(6)], req="01,02", ex="356n", t="NET WEIGHT (tr oz)"),
    _ai("3570-3575", "*?", [N(6)], req="01,02", ex="357n", t="NET VOLUME (oz)"),
    _ai("3600-3605", "*?", [N(6)], req="01,02", ex="360n", t="NET VOLUME (qt (US))"),
    _ai("3610-3615", "*?", [N(6)], req="01,02", ex="361n", t="NET VOLUME (gal.)"),
    _ai("3620-3625", "*?", [N(6)], req="00,01", ex="362n", t="VOLUME (qt (US)), log"),
    _ai("3630-3635", "*?", [N(6)], req="00,01", ex="363n", t="VOLUME (gal (US)), log"),
    _ai("3640-3645", "*?", [N(6)], req="01,02", ex="364n", t="NET VOLUME (in³)"),
    _ai("3650-3655", "*?", [N(6)], req="01,02", ex="365n", t="NET VOLUME (ft³)"),
    _ai("3660-3665", "*?", [N(6)], req="01,02", ex="366n", t="NET VOLUME (yd³)"),
    _ai("3670-3675", "*?", [N(6)], req="00,01", ex="367n", t="VOLUME (in³), log"),
    _ai("3680-3685", "*?", [N(6)], req="00,01", ex="368n", t="VOLUME (ft³), log"),
    _ai("3690-3695", "*?", [N(6)], req="00,01", ex="369n", t="VOLUME (yd³), log"),
    _ai("37", "?", [Nv(8)], req=("00", "02,8026"), t="COUNT"),
    _ai("3900-3909", "?", [Nv(15)], req="255,8020", ex="390n,391n,394n,8111", t="AMOUNT"),
    _ai("3910-3919", "?", [N(3, "iso4217"), Nv(15)], req="8020", ex="391n", t="AMOUNT"),
    _ai(
        "3920-3929", "?", [Nv(15)], req=("01", "30,31nn,32nn,35nn,36nn"), ex="392n,393n", t="PRICE"
    ),
    _ai(
        "3930-3939",
        "?",
        [N(3, "iso4217"), Nv(15)],
        req="30,31nn,32nn,35nn,36nn",
        ex="393n",
        t="PRICE",
    ),
    _ai("3940-3943", "?", [N(4)], req="255", ex="394n,8111", t="PRCNT OFF"),
    _ai(
        "3950-3955",
        "?",
        [N(6)],
        req="30,31nn,32nn,35nn,36nn",
        ex="392n,393n,395n,8005",
        t="PRICE/UoM",
    ),
    _ai("400", "?", [Xv(30)], t="ORDER NUMBER"),
    _ai("401", "?", [Xv(30, "gcppos1")], dl="", t="GINC"),
    _ai("402", "?", [N(17, "csum", "gcppos1")], dl="", t="GSIN"),
    _ai("403", "?", [Xv(30)], req="00", t="ROUTE"),
    _ai("410", "*?", [N(13, "csum", "gcppos1")], t="SHIP TO LOC"),
    _ai("411", "*?", [N(13, "csum", "gcppos1")], t="BILL TO"),
    _ai("412", "*?", [N(13, "csum", "gcppos1")], t="PURCHASE FROM"),
    _ai("413", "*?", [N(13, "csum", "gcppos1")], t="SHIP FOR LOC"),
    _ai("414", "*?", [N(13, "csum", "gcppos1")], dl="254|7040", t="LOC No."),
    _ai("415", "*?", [N(13, "csum", "gcppos1")], req="8020", dl="8020", t="PAY TO"),
    _ai("416", "*?", [N(13, "csum", "gcppos1")], t="PROD/SERV LOC"),
    _ai("417", "*?", [N(13, "csum", "gcppos1")], dl="7040", t="PARTY"),
    _ai("420", "?", [Xv(20)], ex="421", t="SHIP TO POST"),
    _ai("421", "?", [N(3, "iso3166"), Xv(9)], ex="4307", t="SHIP TO POST"),
    _ai("422", "?", [N(3, "iso3166")], req="01,02,8006,8026", ex="426", t="ORIGIN"),
    _ai(
        "423",
        "?",
        [
            N(3, "iso3166"),
            opt(N(3, "iso3166")),
            opt(N(3, "iso3166")),
            opt(N(3, "iso3166")),
            opt(N(3, "iso3166")),
        ],
        req="01,02",
        ex="426",
        t="COUNTRY - INITIAL PROCESS",
    ),
    _ai("424", "?", [N(3, "iso3166")], req="01,02", ex="426", t="COUNTRY - PROCESS"),
    _ai(
        "425",
        "?",
        [
            N(3, "iso3166"),
            opt(N(3, "iso3166")),
            opt(N(3, "iso3166")),
            opt(N(3, "iso3166")),
            opt(N(3, "iso3166")),
        ],
        req="01,02",
        ex="426",
        t="COUNTRY - DISASSEMBLY",
    ),
    _ai("426", "?", [N(3, "iso3166")], req="01,02", t="COUNTRY - FULL PROCESS"),
    _ai("427", "?", [Xv(3)], req=("01,02", "422"), t="ORIGIN SUBDIVISION"),
    _ai("4300", "?", [Xv(35, "pcenc")], req="00", t="SHIP TO COMP"),
    _ai("4301", "?", [Xv(35, "pcenc")], req="00", t="SHIP TO NAME"),
    _ai("4302", "?", [Xv(70, "pcenc")], req="00", t="SHIP TO ADD1"),
    _ai("4303", "?", [Xv(70, "pcenc")], req="4302", t="SHIP TO ADD2"),
    _ai("4304", "?", [Xv(70, "pcenc")], req="00", t="SHIP TO SUB"),
    _ai("4305", "?", [Xv(70, "pcenc")], req="00", t="SHIP TO LOC"),
    _ai("4306", "?", [Xv(70, "pcenc")], req="00", t="SHIP TO REG"),
    _ai("4307", "?", [X(2, "iso3166alpha2")], req="00", t="SHIP TO COUNTRY"),
    _ai("4308", "?", [Xv(30)], req="00", t="SHIP TO PHONE"),
    _ai("4309", "?", [N(10, "latitude"), N(10, "longitude")], req="00", t="SHIP TO GEO"),
    _ai("4310", "?", [Xv(35, "pcenc")], req="00", t="RTN TO COMP"),
    _ai("4311", "?", [Xv(35, "pcenc")], req="00", t="RTN TO NAME"),
    _ai("4312", "?", [Xv(70, "pcenc")], req="00", t="RTN TO ADD1"),
    _ai("4313", "?", [Xv(70, "pcenc")], req="4312", t="RTN TO ADD2"),
    _ai("4314", "?", [Xv(70, "pcenc")], req="00", t="RTN TO SUB"),
    _ai("4315", "?", [Xv(70, "pcenc")], req="00", t="RTN TO LOC"),
    _ai("4316", "?", [Xv(70, "pcenc")], req="00", t="RTN TO REG"),
    _ai("4317", "?", [X(2, "iso3166alpha2")], req="00", t="RTN TO COUNTRY"),
    _ai("4318", "?", [Xv(20)], req="00", t="RTN TO POST"),
    _ai("4319", "?", [Xv(30)], req="00", t="RTN TO PHONE"),
    _ai("4320", "?", [Xv(35, "pcenc")], req="00", t="SRV DESCRIPTION"),
    _ai("4321", "?", [N(1, "yesno")], req="00", t="DANGEROUS GOODS"),
    _ai("4322", "?", [N(1, "yesno")], req="00", t="AUTH TO LEAVE"),
    _ai("4323", "?", [N(1, "yesno")], req="00", t="SIG REQUIRED"),
    _ai("4324", "?", [N(6, "yymmd0"), N(4, "hhmi")], req="00", t="NOT BEF DEL DT"),
    _ai("4325", "?", [N(6, "yymmd0"), N(4, "hhmi")], req="00", t="NOT AFT DEL DT"),
    _ai("4326", "?", [N(6, "yymmdd")], req="00", t="REL DATE"),
    _ai("4330", "?", [N(6), opt(X(1, "hyphen"))], req="00", ex="4331", t="MAX TEMP F."),
    _ai("4331", "?", [N(6), opt(X(1, "hyphen"))], req="00", ex="4330", t="MAX TEMP C."),
    _ai("4332", "?", [N(6), opt(X(1, "hyphen"))], req="00", ex="4333", t="MIN TEMP F."),
    _ai("4333", "?", [N(6), opt(X(1, "hyphen"))], req="00", ex="4332", t="MIN TEMP C."),
    _ai("7001", "?", [N(13)], req="01,02,8006,8026", t="NSN"),
    _ai("7002", "?", [Xv(30)], req="01,02", t="MEAT CUT"),
    _ai("7003", "?", [N(6, "yymmdd"), N(4, "hhmi")], req="01,02", t="EXPIRY TIME"),
    _ai("7004", "?", [Nv(4)], req="01+10", t="ACTIVE POTENCY"),
    _ai("7005", "?", [Xv(12)], req="01,02", t="CATCH AREA"),
    _ai("7006", "?", [N(6, "yymmdd")], req="01,02", t="FIRST FREEZE DATE"),
    _ai("7007", "?", [N(6, "yymmdd"), opt(N(6, "yymmdd"))], req="01,02", t="HARVEST DATE"),
    _ai("7008", "?", [Xv(3)], req="01,02", t="AQUATIC SPECIES"),
    _ai("7009", "?", [Xv(10)], req="01,02", t="FISHING GEAR TYPE"),
    _ai("7010", "?", [Xv(2)], req="01,02", t="PROD METHOD"),
    _ai("7011", "?", [N(6, "yymmdd"), opt(N(4, "hhmi"))], req="01,02", t="TEST BY DATE"),
    _ai("7020", "?", [Xv(20)], req=("01,8006", "416"), t="REFURB LOT"),
    _ai("7021", "?", [Xv(20)], req="01,8006", t="FUNC STAT"),
    _ai("7022", "?", [Xv(20)], req="7021", t="REV STAT"),
    _ai("7023", "?", [Xv(30, "gcppos1")], t="GIAI - ASSEMBLY"),
    _ai("7030", "?", [N(3, "iso3166999"), Xv(27)], req="01,02", t="PROCESSOR # 0"),
    _ai("7031", "?", [N(3, "iso3166999"), Xv(27)], req="01,02", t="PROCESSOR # 1"),
    _ai("7032", "?", [N(3, "iso3166999"), Xv(27)], req="01,02", t="PROCESSOR # 2"),
    _ai("7033", "?", [N(3, "iso3166999"), Xv(27)], req="01,02", t="PROCESSOR # 3"),
    _ai("7034", "?", [N(3, "iso3166999"), Xv(27)], req="01,02", t="PROCESSOR # 4"),
    _ai("7035", "?", [N(3, "iso3166999"), Xv(27)], req="01,02", t="PROCESSOR # 5"),
    _ai("7036", "?", [N(3, "iso3166999"), Xv(27)], req="01,02", t="PROCESSOR # 6"),
    _ai("7037", "?", [N(3, "iso3166999"), Xv(27)], req="01,02", t="PROCESSOR # 7"),
    _ai("7038", "?", [N(3, "iso3166999"), Xv(27)], req="01,02", t="PROCESSOR # 8"),
    _ai("7039", "?", [N(3, "iso3166999"), Xv(27)], req="01,02", t="PROCESSOR # 9"),
    _ai("7040", "", [N(1), X(1), X(1), X(1, "importeridx")], t="UIC+EXT"),
    _ai("7041", "", [Xv(4, "packagetype")], req="00", t="UFRGT UNIT TYPE"),
    _ai("710", "?", [Xv(20)], req="01", t="NHRN PZN"),
    _ai("711", "?", [Xv(20)], req="01", t="NHRN CIP"),
    _ai("712", "?", [Xv(20)], req="01", t="NHRN CN"),
    _ai("713", "?", [Xv(20)], req="01", t="NHRN DRN"),
    _ai("714", "?", [Xv(20)], req="01", t="NHRN AIM"),
    _ai("715", "?", [Xv(20)], req="01", t="NHRN NDC"),
    _ai("716", "?", [Xv(20)], req="01", t="NHRN AIC"),
    _ai("717", "?", [Xv(20)], req="01", t="NHRN SRN"),
    _ai("7230", "?", [X(2), Xv(28)], req="01,8004", t="CERT # 1"),
    _ai("7231", "?", [X(2), Xv(28)], req="01,8004", t="CERT # 2"),
    _ai("7232", "?", [X(2), Xv(28)], req="01,8004", t="CERT # 3"),
    _ai("7233", "?", [X(2), Xv(28)], req="01,8004", t="CERT # 4"),
    _ai("7234", "?", [X(2), Xv(28)], req="01,8004", t="CERT # 5"),
    _ai("7235", "?", [X(2), Xv(28)], req="01,8004", t="CERT # 6"),
    _ai("7236", "?", [X(2), Xv(28)], req="01,8004", t="CERT # 7"),
    _ai("7237", "?", [X(2), Xv(28)], req="01,8004", t="CERT # 8"),
    _ai("7238", "?", [X(2), Xv(28)], req="01,8004", t="CERT # 9"),
    _ai("7239", "?", [X(2), Xv(28)], req="01,8004", t="CERT # 10"),
    _ai("7240", "?", [Xv(20)], req="01,8006", t="PROTOCOL"),
    _ai("7241", "?", [N(2, "mediatype")], req="8017,8018", t="AIDC MEDIA TYPE"),
    _ai("7242", "?", [Xv(25)], req="8017,8018", t="VCN"),
    _ai("7250", "?", [N(8, "yyyymmdd")], req="8018", ex="7251", t="DOB"),
    _ai("7251", "?", [N(8, "yyyymmdd"), N(4, "hhmi")], req="8018", ex="7250", t="DOB TIME"),
    _ai("7252", "?", [N(1, "iso5218")], req="8018", t="BIO SEX"),
    _ai("7253", "?", [Xv(40, "pcenc")], req="8017,8018", ex="7256,7259", t="FAMILY NAME"),
    _ai("7254", "?", [Xv(40, "pcenc")], req="8017,8018", ex="7256,7259", t="GIVEN NAME"),
    _ai("7255", "?", [Xv(10)], req="8017,8018", ex="7256,7259", t="SUFFIX"),
    _ai("7256", "?", [Xv(90, "pcenc")], req="8017,8018", t="FULL NAME"),
    _ai("7257", "?", [Xv(70, "pcenc")], req="8018", t="PERSON ADDR"),
    _ai("7258", "?", [X(3, "posinseqslash")], req="8018+7259", t="BIRTH SEQUENCE"),
    _ai("7259", "?", [Xv(40, "pcenc")], req="8018", ex="7256", t="BABY"),
    _ai(
        "8001",
        "?",
        [N(4, "nonzero"), N(5, "nonzero"), N(3, "nonzero"), N(1, "winding"), N(1)],
        req="01",
        t="DIMENSIONS",
    ),
    _ai("8002", "?", [Xv(20)], t="CMT No."),
    _ai("8003", "?", [N(1, "zero"), N(13, "csum", "gcppos1"), opt(Xv(16))], dl="", t="GRAI"),
    _ai("8004", "?", [Xv(30, "gcppos1")], dl="7040", t="GIAI"),
    _ai("8005", "?", [N(6)], req="01,02", t="PRICE PER UNIT"),
    _ai(
        "8006",
        "?",
        [N(14, "csum", "gcppos2"), N(4, "pieceoftotal")],
        ex="01,37",
        dl="22,10,21",
        t="ITIP",
    ),
    _ai("8007", "?", [Xv(34, "iban")], req="415", t="IBAN"),
    _ai(
        "8008",
        "?",
        [N(6, "yymmdd"), N(2, "hh"), opt(N(2, "mi")), opt(N(2, "ss"))],
        req="01,02",
        t="PROD TIME",
    ),
    _ai("8009", "?", [Xv(50)], req="00,01", t="OPTSEN"),
    _ai("8010", "?", [Yv(30, "gcppos1")], dl="8011", t="CPID"),
    _ai("8011", "", [Nv(12, "nozeroprefix")], req="8010", t="CPID SERIAL"),
    _ai("8012", "?", [Xv(20)], req="01,8006", t="VERSION"),
    _ai("8013", "?", [Xv(25, "csumalpha", "gcppos1")], dl="", t="GMN"),
    _ai("8014", "", [Xv(25, "csumalpha", "gcppos1", "hasnondigit")], req="01", t="MUDI"),
    _ai("8017", "?", [N(18, "csum", "gcppos1")], ex="8018", dl="8019", t="GSRN - PROVIDER"),
    _ai("8018", "?", [N(18, "csum", "gcppos1")], ex="8017", dl="8019", t="GSRN - RECIPIENT"),
    _ai("8019", "", [Nv(10)], req="8017,8018", t="SRIN"),
    _ai("8020", "", [Xv(25)], req="415", t="REF No."),
    _ai(
        "8026",
        "?",
        [N(14, "csum", "gcppos2"), N(4, "pieceoftotal")],
        req="37",
        ex="02,8006",
        t="ITIP CONTENT",
    ),
    _ai(
        "8030",
        "?",
        [Zv(90)],
        req="00,01+21,253,255,8003,8004,8006+21,8010+8011,8017,8018",
        t="DIGSIG",
    ),
    _ai("8040", "", [N(15)], req="01+21", t="IMEI"),
    _ai("8041", "", [N(15)], req="01+21+8040", t="IMEI2"),
    _ai("8042", "", [N(32)], req="01+21+8040", t="ESIM"),
    _ai("8043", "", [N(18), opt(Nv(2))], req="01+21+8040", t="PSIM"),
    _ai("8110", "?", [Xv(70, "couponcode")]),
    _ai("8111", "?", [N(4)], req="255", t="POINTS"),
    _ai("8112", "?", [Xv(70, "couponposoffer")]),
    _ai("8200", "", [Xv(70)], req="01", t="PRODUCT URL"),
    _ai("90", "?", [Xv(30)], t="INTERNAL"),
    _ai("91-99", "?", [Xv(90)], t="INTERNAL"),
)

AI_RULES: dict[str, AiRule] = {ai: rule for rule in AI_ENTRIES for ai in rule.ais}
"""Every assigned AI mapped to its rule."""

DL_PRIMARY_KEYS: frozenset[str] = frozenset(ai for ai, rule in AI_RULES.items() if rule.dlpkey)
"""AIs that may be the primary key of a GS1 Digital Link URI."""


def rule_for(ai: str) -> AiRule | None:
    """The rule for one AI, or None when the AI is not assigned."""
    return AI_RULES.get(ai)


def ai_matches(pattern: str, ai: str) -> bool:
    """Whether ``ai`` matches a req/ex pattern such as ``310n`` (``n`` = any digit)."""
    return len(pattern) == len(ai) and all(
        p == a or (p == "n" and a.isdigit()) for p, a in zip(pattern, ai, strict=True)
    )
