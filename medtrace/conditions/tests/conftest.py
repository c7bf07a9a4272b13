"""Fixtures of the conditions tests: the trace world, and users of the recording departments."""

from __future__ import annotations

from typing import Any

import pytest

from medtrace.trace.tests import factories as f


@pytest.fixture
def w(db: None) -> f.World:
    return f.world()


def _user(username: str, role: str) -> Any:
    from django.contrib.auth.models import Group

    from medtrace.accounts.models import User

    user = User.objects.create_user(
        username=username, password="pw-" + username, printed_name=username.title()
    )
    user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def operator(db: None) -> Any:
    return _user("line_operator", "production")


@pytest.fixture
def sales_user(db: None) -> Any:
    return _user("sales_user", "sales")
