from __future__ import annotations

import io

import pytest
from django.contrib.auth.hashers import identify_hasher
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.test import Client

from medtrace.accounts.models import ApiToken, User
from medtrace.accounts.roles import ROLE_PERMISSIONS, Role
from medtrace.accounts.services import hash_token, token_authenticate, token_create, token_revoke

pytestmark = pytest.mark.django_db


def test_every_department_group_exists_after_migrate() -> None:
    names = set(Group.objects.values_list("name", flat=True))

    assert set(Role.values) <= names


def test_each_group_holds_exactly_the_permissions_of_its_role() -> None:
    for role, perms in ROLE_PERMISSIONS.items():
        group = Group.objects.get(name=role)
        held = {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all()}
        assert held == set(perms), role


def test_passwords_are_hashed_with_argon2(production_password_hashers: list[str]) -> None:
    user = User.objects.create_user(username="u1", password="a long pass phrase")

    assert identify_hasher(user.password).algorithm == "argon2"


def test_create_token_prints_a_token_that_authenticates_and_only_its_hash_is_stored() -> None:
    mes = User.objects.create_user(username="mes", password="x" * 12)
    mes.groups.add(Group.objects.get(name="production"))
    out = io.StringIO()

    call_command(
        "create_token",
        "mes",
        "--scope",
        "masterdata:read",
        "--days",
        "5",
        stdout=out,
        stderr=io.StringIO(),
    )
    raw = out.getvalue().strip()

    token = ApiToken.objects.get()
    assert token.token_hash == hash_token(raw) and raw not in token.token_hash
    assert token.scopes == ["masterdata:read"]
    assert Client(HTTP_AUTHORIZATION=f"Bearer {raw}").get("/api/v1/products").status_code == 200


def test_an_unknown_scope_is_refused() -> None:
    user = User.objects.create_user(username="u2", password="x" * 12)

    with pytest.raises(Exception, match="Unknown scope 'everything'"):
        token_create(user=user, scopes=["everything"])


def test_a_revoked_token_no_longer_authenticates() -> None:
    user = User.objects.create_user(username="u3", password="x" * 12)
    token, raw = token_create(user=user, scopes=["masterdata:read"])

    token_revoke(token=token)

    assert token_authenticate(raw) is None
    assert Client(HTTP_AUTHORIZATION=f"Bearer {raw}").get("/api/v1/products").status_code == 401


def test_a_partner_user_belongs_to_a_party(hospital_a) -> None:
    assert hospital_a.is_partner
    assert hospital_a.party.role == "hospital"
