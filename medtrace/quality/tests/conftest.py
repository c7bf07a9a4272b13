"""Shared fixtures of the quality tests: a small world, commissioned units, QC users."""

from __future__ import annotations

from typing import Any

import pytest

from medtrace.lifecycle import events as ev
from medtrace.trace.tests import factories as f


def _user(username: str, role: str) -> Any:
    from django.contrib.auth.models import Group

    from medtrace.accounts.models import User

    user = User.objects.create_user(
        username=username,
        password="pw-" + username,
        printed_name=username.replace("_", " ").title(),
    )
    user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def w(db: None) -> f.World:
    return f.world()


@pytest.fixture
def qc_inspector(db: None) -> Any:
    return _user("qc_inspector", role="qc")


@pytest.fixture
def production_operator(db: None) -> Any:
    return _user("production_operator", role="production")


def commission(w: f.World, *serials: str, lot: str | None = None) -> list[str]:
    """Commission device units (optionally of one lot) through the ledger."""
    epcs = [w.device_sn(s) for s in serials]
    ilmd = {"cbvmda:lotNumber": lot} if lot else None
    ev.emit(
        [
            ev.object_event(
                action="ADD",
                epcs=epcs,
                biz_step="commissioning",
                disposition="active",
                read_point=w.plant.sgln,
                biz_location=w.warehouse.sgln,
                ilmd=ilmd,
            )
        ],
        user=None,
    )
    return epcs


def pump_plan(w: f.World, user: Any = None, **kw: Any) -> Any:
    """A final inspection plan of the device: flow accuracy ±5 %, occlusion pressure and
    leakage current (measured), housing (attribute)."""
    from medtrace.quality.plans import inspection_plan_create

    data: dict[str, Any] = {
        "code": "FQ-IP9",
        "name": "Final inspection IP-9",
        "kind": "final",
        "product_id": w.device.pk,
        "characteristics": [
            {"name": "Flow accuracy", "nominal": 0, "lower": -5, "upper": 5, "unit": "%"},
            {"name": "Occlusion pressure", "lower": 40, "upper": 120, "unit": "kPa"},
            {"name": "Leakage current", "upper": 100, "unit": "µA"},
            {"name": "Housing", "type": "attribute", "required": False},
        ],
        **kw,
    }
    return inspection_plan_create(data=data, user=user)


GOOD = {"Flow accuracy": "1.2", "Occlusion pressure": 80, "Leakage current": "12.5"}
BAD = {"Flow accuracy": "6.1", "Occlusion pressure": 80, "Leakage current": "12.5"}
