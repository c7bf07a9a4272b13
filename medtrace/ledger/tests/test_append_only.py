from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from medtrace.ledger import services
from medtrace.ledger.models import Event

from . import builders as b

pytestmark = pytest.mark.django_db


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigger exists on PostgreSQL")
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE ledger_event SET biz_step = 'shipping'",
        "DELETE FROM ledger_event",
        "DELETE FROM ledger_eventepc",
        "TRUNCATE ledger_event CASCADE",
    ],
)
def test_postgresql_refuses_to_change_or_delete_ledger_rows(sql: str) -> None:
    services.capture_document(data=b.document(b.commission([b.sgtin("1")])), user=None)

    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("SET LOCAL medtrace.allow_truncate = 'off'")
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # fire pending FK checks first
        cursor.execute(sql)

    assert Event.objects.get().biz_step == "commissioning"
