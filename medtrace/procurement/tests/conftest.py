"""Fixtures of the procurement tests: the qualified-supplier world and its people."""

from __future__ import annotations

from typing import Any

import pytest

from .factories import Proc, proc_world


def _user(username: str, *, role: str | None = None, party: Any = None) -> Any:
    from django.contrib.auth.models import Group

    from medtrace.accounts.models import User

    user = User.objects.create_user(
        username=username,
        password="pw-" + username,
        printed_name=username.replace("_", " ").title(),
        party=party,
    )
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def p(db: None) -> Proc:
    return proc_world()


@pytest.fixture
def buyer(db: None) -> Any:
    return _user("buyer", role="procurement")


@pytest.fixture
def qc_inspector(db: None) -> Any:
    return _user("qc_inspector", role="qc")


@pytest.fixture
def supplier_user(p: Proc) -> Any:
    return _user("supplier_user", party=p.supplier)


@pytest.fixture
def distributor_user(p: Proc) -> Any:
    return _user("distributor_user", party=p.w.distributor)
