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
