"""Load the demo manufacturer idempotently, through the same services a user would call."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.contrib.auth.models import Group
from django.db import transaction

from medtrace.accounts.models import User
from medtrace.accounts.roles import sync_roles
from medtrace.lib import udi
from medtrace.masterdata import services
from medtrace.masterdata.models import (
    Location,
    Material,
    Party,
    Product,
)
from medtrace.masterdata.validators import USCC_ALPHABET, USCC_WEIGHTS

from . import data


@dataclass
class DemoSummary:
    created: dict[str, int] = field(default_factory=dict)
    users: list[tuple[str, str]] = field(default_factory=list)

    def bump(self, kind: str) -> None:
        self.created[kind] = self.created.get(kind, 0) + 1


def _gln(prefix: str, ref: str) -> str:
    body = (prefix + ref.rjust(12 - len(prefix), "0"))[:12]
    return body + udi.gs1_check_digit(body)


def _gtin(indicator: str, prefix: str, item: str) -> str:
    body = indicator + prefix + item.rjust(12 - len(prefix), "0")
    return body + udi.gs1_check_digit(body)


def _uscc(base17: str) -> str:
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(base17, USCC_WEIGHTS, strict=True))
    return base17 + USCC_ALPHABET[(31 - total % 31) % 31]


def _party(spec: dict, summary: DemoSummary) -> Party:
    gln = _gln(spec["prefix"], "0")
    party = Party.objects.filter(gln=gln).first()
    if party is not None:
        return party
    party = services.party_create(
        data={
            "name": spec["name"],
            "name_en": spec["name_en"],
            "role": spec["role"],
            "gln": gln,
            "gs1_company_prefix": spec["prefix"],
            "city": spec["city"],
            "province": spec["province"],
            "address": spec["address"],
            "uscc": _uscc(spec["uscc"]) if spec.get("uscc") else "",
        },
        user=None,
    )
    for kind, number, expires in spec["licences"]:
        services.licence_add(
            party=party,
            data={"kind": kind, "number": number, "expires_on": date.fromisoformat(expires)},
            user=None,
        )
    summary.bump("parties")
    return party


def _location(parties: dict[str, Party], row: tuple, summary: DemoSummary) -> None:
    key, code, name, kind, parent_code, ref = row
    party = parties[key]
    if Location.objects.filter(party=party, code=code).exists():
        return
    parent = Location.objects.get(party=party, code=parent_code) if parent_code else None
    services.location_create(
        data={
            "party_id": party.pk,
            "code": code,
            "name": name,
            "kind": kind,
            "parent_id": parent.pk if parent else None,
            "gln": _gln(party.gs1_company_prefix, ref),
        },
        user=None,
    )
    summary.bump("locations")


def _material(parties: dict[str, Party], spec: dict, summary: DemoSummary) -> None:
    if Material.objects.filter(code=spec["code"]).exists():
        return
    fields = {
        k: spec[k] for k in ("code", "name", "name_en", "kind", "tracking", "uom", "critical")
    }
    if spec["code"] in data.MATERIAL_GTINS:
        prefix, item = data.MATERIAL_GTINS[spec["code"]]
        fields["gtin"] = _gtin("0", prefix, item)
        fields["gcp_length"] = len(prefix)
    services.material_create(
        data=fields,
        suppliers=[
            {"supplier_id": parties[key].pk, "supplier_part_no": part}
            for key, part in spec["suppliers"]
        ],
        user=None,
    )
    summary.bump("materials")


def _product(manufacturer: Party, spec: dict, summary: DemoSummary) -> None:
    if Product.objects.filter(manufacturer=manufacturer, model=spec["model"]).exists():
        return
    indicators = {"unit": "0", "pack": "1", "case": "2", "pallet": "3"}
    identifiers = []
    for level, item, qty in spec["levels"]:
        if spec["issuing_agency"] == "hibcc":
            lic, pcn = spec["hibc"]
            di = f"{lic}{pcn}{indicators[level]}"
        else:
            di = _gtin(indicators[level], manufacturer.gs1_company_prefix, item)
        identifiers.append({"packaging_level": level, "di": di, "quantity": qty})
    fields = (
        "model",
        "name",
        "name_en",
        "nmpa_registration_no",
        "risk_class",
        "tracking",
        "implantable",
        "sterile",
        "single_use",
        "shelf_life_days",
        "classification_code",
        "gmdn_code",
        "nhsa_code",
        "udi_pi_elements",
        "issuing_agency",
    )
    product = services.product_create(
        data={"manufacturer_id": manufacturer.pk, **{k: spec[k] for k in fields}},
        identifiers=identifiers,
        user=None,
    )
    summary.bump("products")
    if spec["bom"]:
        materials = {
            m.code: m for m in Material.objects.filter(code__in=[code for code, _ in spec["bom"]])
        }
        bom = services.bom_create(
            product=product,
            version="A",
            lines=[
                {"material_id": materials[code].pk, "quantity": Decimal(qty)}
                for code, qty in spec["bom"]
            ],
            note="首版 BOM / initial release",
            effective_from=date(2024, 1, 1),
            user=None,
        )
        services.bom_release(bom=bom, user=None)
        summary.bump("boms")


def _users(parties: dict[str, Party], summary: DemoSummary) -> None:
    for username, role, party_key, printed in data.USERS:
        user = User.objects.filter(username=username).first()
        if user is None:
            user = User(
                username=username,
                printed_name=printed,
                party=parties[party_key] if party_key else None,
                # Internal staff use the admin for master data, limited by their role's permissions;
                # partner users never see it.
                is_staff=party_key is None,
                is_superuser=role == "admin",
            )
            user.set_password(data.DEMO_PASSWORD)
            user.save()
            if role:
                user.groups.add(Group.objects.get(name=role))
            summary.bump("users")
        summary.users.append((username, role or f"partner: {user.party}"))


def _signatures(summary: DemoSummary) -> None:
    """QA/RA approves each released BOM with an e-signature (the demo user's own password)."""
    from medtrace.audit.models import Signature
    from medtrace.audit.signatures import signature_apply
    from medtrace.masterdata.models import Bom, BomStatus

    qa = User.objects.filter(username="qa").first()
    if qa is None:
        return
    for bom in Bom.objects.filter(status=BomStatus.RELEASED).order_by("pk"):
        if Signature.objects.filter(object_type="masterdata.bom", object_id=str(bom.pk)).exists():
            continue
        signature_apply(
            record=bom,
            meaning="approved",
            user=qa,
            password=data.DEMO_PASSWORD,
            reason="设计转换评审通过 / design transfer review passed",
        )
        summary.bump("signatures")


def _scaled_hospitals(units: int, summary: DemoSummary) -> dict[str, Party]:
    """Keep the demo's shape at benchmark size: about one hospital per 500 devices."""
    extra: dict[str, Party] = {}
    for n in range(max(0, units // 500 - 2)):
        prefix = f"69300{n:02d}" if n < 100 else f"6931{n:03d}"
        spec = {
            "name": f"示范医院 {n + 1:03d}",
            "name_en": f"Demo Hospital {n + 1:03d}",
            "role": "hospital",
            "prefix": prefix,
            "city": "苏州",
            "province": "江苏",
            "address": "",
            "licences": [],
        }
        party = _party(spec, summary)
        extra[f"hosp_{n}"] = party
        if not Location.objects.filter(party=party, code="MAIN").exists():
            services.location_create(
                data={
                    "party_id": party.pk,
                    "code": "MAIN",
                    "name": spec["name"],
                    "kind": "site",
                    "gln": _gln(prefix, "1"),
                },
                user=None,
            )
            summary.bump("locations")
    return extra


def _events(
    units: int, hospital_prefixes: list[str], summary: DemoSummary, log: Callable[[str], None]
) -> None:
    """Capture the demo's event story once: pumps made, packed, shipped and installed."""
    from medtrace.ledger import generator
    from medtrace.ledger.models import Event
    from medtrace.ledger.services import capture_document

    if Event.objects.exists():
        return
    plan = generator.Plan(units=units, hospitals=tuple(hospital_prefixes))
    for batch in generator.generate(plan):
        capture_document(data=generator.document(batch), user=None)
        summary.created["events"] = summary.created.get("events", 0) + len(batch)
        if units >= 1000:
            log(f"  … {summary.created['events']} events captured")


def load_demo(
    *, units: int = 0, log: Callable[[str], None] = print, lifecycle: bool = True
) -> DemoSummary:
    summary = DemoSummary()
    with transaction.atomic():
        sync_roles()
        parties = {spec["key"]: _party(spec, summary) for spec in data.PARTIES}
        for row in data.LOCATIONS:
            _location(parties, row, summary)
        for spec in data.MATERIALS:
            _material(parties, spec, summary)
        for spec in data.PRODUCTS:
            _product(parties["mfr"], spec, summary)
        _users(parties, summary)
        _signatures(summary)
        from medtrace.service.demo import load_implants

        load_implants(parties, summary.bump)
        extra = _scaled_hospitals(units, summary) if units else {}
        hospitals = [parties["hosp_a"], parties["hosp_b"], *extra.values()]
    # Each work order is captured in its own transaction, like a real production line would.
    _events(units or data.DEMO_PUMPS, [h.gs1_company_prefix for h in hospitals], summary, log)
    if lifecycle:
        load_stories(log)
    return summary


def stories() -> list[tuple[str, Callable[[Callable[[str], None]], None]]]:
    """The living factory (issue 5): each department's story, made through its services, in
    the order they depend on each other: material is received before it is built into pumps,
    the final-inspection plan exists before pumps are released, readings are taken before the
    pumps go into service, and the warehouse packs what is released and still at home."""
    from medtrace.complaints import demo as complaints
    from medtrace.conditions import demo as conditions
    from medtrace.distribution import demo as distribution
    from medtrace.procurement import demo as procurement
    from medtrace.production import demo as production
    from medtrace.quality import demo as quality
    from medtrace.recalls import demo as recalls
    from medtrace.service import demo as service
    from medtrace.warehouse import demo as warehouse

    return [
        ("procurement", procurement.load_demo),
        ("quality", quality.load_demo),
        ("production", production.load_demo),
        ("distribution", distribution.load_demo),
        ("conditions", conditions.load_demo),
        ("service", service.load_lifecycle_demo),
        ("complaints", complaints.load),
        ("warehouse", warehouse.load_demo),
        # Last: the open recall holds what is still in our warehouse, packed or not.
        ("recalls", recalls.load),
    ]


def load_stories(log: Callable[[str], None] = print, *, before: str | None = None) -> None:
    """Run the department stories in order (each is idempotent); ``before`` stops ahead of the
    named one (a story's own test runs what it builds on, then itself)."""
    names = [name for name, _story in stories()]
    if before is not None and before not in names:
        raise ValueError(f"unknown story {before!r}; expected one of {', '.join(names)}")
    for name, story in stories():
        if name == before:
            return
        log(f"  … {name}")
        story(log)
