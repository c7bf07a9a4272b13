"""The bizStep -> lifecycle phase table (medtrace/trace/phases.py)."""

from __future__ import annotations

import pytest

from medtrace.lib.epcis import cbv
from medtrace.trace.phases import BIZ_STEP_PHASES, PHASES, RECEIVING_STEPS, phase_of


def test_every_cbv_business_step_has_a_phase_or_a_documented_fallback() -> None:
    fallback = {"other", "sensor_reporting"}

    assert cbv.BIZ_STEPS - set(BIZ_STEP_PHASES) - RECEIVING_STEPS == fallback
    assert set(BIZ_STEP_PHASES.values()) <= set(PHASES)


@pytest.mark.parametrize(
    ("step", "phase"),
    [("commissioning", "production"), ("assembling", "production"),
     ("inspecting", "quality"), ("holding", "quality"), ("storing", "warehouse"),
     ("packing", "warehouse"), ("picking", "warehouse"), ("shipping", "distribution"),
     ("installing", "use"), ("repairing", "service"), ("decommissioning", "end-of-life"),
     ("destroying", "end-of-life"),
     # the GS1 Web URI and the EPCIS 1.x URN spellings, and a company's own URI
     ("https://ref.gs1.org/cbv/BizStep-packing", "warehouse"),
     ("urn:epcglobal:cbv:bizstep:shipping", "distribution"),
     ("urn:medtrace:bizstep:using", "use"), ("https://example.com/steps#maintaining", "service"),
     ("urn:medtrace:bizstep:disposing", "end-of-life")],
)  # fmt: skip
def test_a_business_step_gives_its_phase(step: str, phase: str) -> None:
    assert phase_of(biz_step=step, event_type="ObjectEvent", action="OBSERVE") == phase


def test_receiving_supplier_material_is_procurement_and_a_partner_receipt_distribution() -> None:
    def receiving(**kw: object) -> str:
        return phase_of(biz_step="receiving", event_type="ObjectEvent", action="OBSERVE",
                        **kw)  # type: ignore[arg-type]  # fmt: skip

    assert receiving(source_roles=["supplier"]) == "procurement"
    assert receiving(class_only=True) == "procurement"
    assert receiving(source_roles=["manufacturer"]) == "distribution"
    assert receiving() == "distribution"
    assert receiving(disposition="returned", source_roles=["hospital"]) == "service"
    assert receiving(btt_types=["rma"]) == "service"


@pytest.mark.parametrize(
    ("kw", "phase"),
    [({"disposition": "destroyed"}, "end-of-life"), ({"disposition": "in_transit"}, "distribution"),
     ({"event_type": "TransactionEvent", "btt_types": ["po"]}, "procurement"),
     ({"event_type": "TransactionEvent", "btt_types": ["prodorder"]}, "production"),
     ({"event_type": "TransactionEvent", "btt_types": ["inv"]}, "distribution"),
     ({"event_type": "TransformationEvent"}, "production"),
     ({"event_type": "AssociationEvent", "action": "DELETE"}, "service"),
     ({"event_type": "AggregationEvent", "action": "ADD"}, "warehouse"),
     ({"action": "ADD"}, "production"), ({"action": "DELETE"}, "end-of-life"),
     ({"biz_step": "other"}, "warehouse")],
)  # fmt: skip
def test_without_a_mapped_business_step_the_phase_falls_back(kw: dict, phase: str) -> None:
    args: dict = {"biz_step": None, "event_type": "ObjectEvent", "action": "OBSERVE", **kw}

    assert phase_of(**args) == phase
