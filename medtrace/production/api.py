"""Production API: serial rules and allocation here (/api/v1/products/{id}/serial-rule and
.../serials); work orders, commissioning, assembly and the DHR in ``api_orders``."""

# No `from __future__ import annotations`: ninja reads the schemas from the annotations.
from datetime import datetime
from uuid import UUID

from django.http import HttpRequest
from ninja import Schema, Status
from pydantic import ConfigDict, Field

from medtrace.accounts.models import User
from medtrace.api import require_scope
from medtrace.errors import NotFound

from . import selectors, services
from .api_router import router
from .models import SerialRule

# A serial rule is part of the product's labelling (master data); allocating is production.
READ, RULE_WRITE, ALLOCATE = "masterdata:read", "masterdata:write", "production:write"


class StrictIn(Schema):
    model_config = ConfigDict(extra="forbid")


class SerialRuleIn(StrictIn):
    prefix: str = Field("", description="Leading characters, GS1 CSET 82 (AI 21 charset)")
    date_part: str = Field("none", description="none, YYMMDD, YYMM or YYYY (allocation date)")
    sequence_width: int = Field(description="Digits of the zero-padded sequence (1-12)")
    reset_policy: str = Field("never", description="never, or per_period (each new date part)")
    reason: str = Field("", description="Why the rule changes (required to change one; audited)")


class SerialRuleOut(Schema):
    id: int
    product_id: int
    prefix: str
    date_part: str
    sequence_width: int
    reset_policy: str
    active: bool
    pattern: str = Field(description="e.g. SN{YYMM}99999: prefix, date part, sequence digits")
    example: str = Field(description="The first serial of today's period under this rule")
    updated_at: datetime


class AllocateIn(StrictIn):
    count: int = Field(description="How many serials (1-100,000)")
    work_order_ref: str = Field("", description="The work order they are for (optional)")


class AllocationOut(Schema):
    serials: list[str]
    count: int
    skipped: list[str] = Field(
        description="Serials the rule would have given but that were allocated before; "
        "a serial is never handed out twice"
    )
    batch: UUID
    allocated_at: datetime


def _user(request: HttpRequest, scope: str) -> User:
    require_scope(request, scope)
    assert isinstance(request.user, User)  # every route is authenticated
    return request.user


def _out(rule: SerialRule) -> dict[str, object]:
    return {
        "id": rule.pk,
        "product_id": rule.product_id,
        "prefix": rule.prefix,
        "date_part": rule.date_part,
        "sequence_width": rule.sequence_width,
        "reset_policy": rule.reset_policy,
        "active": rule.active,
        "pattern": rule.pattern,
        "example": selectors.serial_example(rule),
        "updated_at": rule.updated_at,
    }


@router.get("/products/{product_id}/serial-rule", response=SerialRuleOut)
def get_serial_rule(request: HttpRequest, product_id: int) -> dict[str, object]:
    user = _user(request, READ)
    product = selectors.production_product(user=user, pk=product_id)
    rule = selectors.serial_rule_get(product=product)
    if rule is None:
        raise NotFound(
            f"Product {product_id} has no serial rule; set one with "
            f"PUT /api/v1/products/{product_id}/serial-rule",
            details={"product_id": product_id},
        )
    return _out(rule)


@router.put("/products/{product_id}/serial-rule", response=SerialRuleOut)
def put_serial_rule(
    request: HttpRequest, product_id: int, payload: SerialRuleIn
) -> dict[str, object]:
    """Set the product's serial rule; changing an existing one needs ``reason`` (audited)."""
    user = _user(request, RULE_WRITE)
    product = selectors.production_product(user=user, pk=product_id)
    data = payload.model_dump()
    reason = data.pop("reason")
    rule = services.serial_rule_set(product=product, data=data, user=user, reason=reason)
    return _out(rule)


@router.post("/products/{product_id}/serials", response={201: AllocationOut})
def allocate_serials(request: HttpRequest, product_id: int, payload: AllocateIn) -> Status:
    """Allocate new serials by the product's rule; each is handed out once, ever."""
    user = _user(request, ALLOCATE)
    product = selectors.production_product(user=user, pk=product_id)
    allocation = services.serials_allocate(
        product=product, count=payload.count, user=user, work_order_ref=payload.work_order_ref
    )
    return Status(
        201,
        {
            "serials": list(allocation),
            "count": len(allocation),
            "skipped": allocation.skipped,
            "batch": allocation.batch,
            "allocated_at": allocation.allocated_at,
        },
    )


# Work orders, commissioning, assembly and the DHR: their operations join the same router.
from . import api_orders  # noqa: E402, F401
