"""Users, clients and file readers for the export tests."""

from __future__ import annotations

import io
import zipfile
from typing import Any

from django.contrib.auth.models import Group
from django.test import Client

from medtrace.accounts.models import User
from medtrace.accounts.services import scopes_for, token_create


def staff(username: str, role: str | None) -> User:
    user = User.objects.create_user(username=username, password=None)
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


def partner(username: str, party: Any) -> User:
    return User.objects.create_user(username=username, password=None, party=party)


def token_client(user: User, scopes: list[str] | None = None) -> Client:
    _token, raw = token_create(
        user=user, scopes=sorted(scopes or scopes_for(user)), name="exports tests"
    )
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}")


def session_client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def body(response: Any) -> bytes:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return bytes(response.content)


def xlsx_text(data: bytes) -> str:
    """Every XML part of an XLSX file, decompressed and joined (what a scan for text must read:
    the file itself is a zip)."""
    with zipfile.ZipFile(io.BytesIO(data)) as book:
        return "\n".join(book.read(name).decode("utf-8") for name in book.namelist())


def xlsx_rows(data: bytes, sheet: int | str = 0) -> list[list[Any]]:
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(data))
    ws = book.worksheets[sheet] if isinstance(sheet, int) else book[sheet]
    return [list(row) for row in ws.iter_rows(values_only=True)]
