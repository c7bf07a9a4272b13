"""On PostgreSQL, refuse UPDATE and DELETE on the ledger tables (DESIGN §6).

The ledger is evidence: a correction is a new event (errorDeclaration), never an edit. SQLite has
no such guard here; there `medtrace audit verify` (trust issue) detects tampering instead.
"""

from django.db import migrations

LEDGER_TABLES = [
    "ledger_event",
    "ledger_eventepc",
    "ledger_eventquantity",
    "ledger_eventbiztransaction",
    "ledger_eventsourcedest",
    "ledger_eventretraction",
]

FUNCTION = """
CREATE OR REPLACE FUNCTION medtrace_refuse_ledger_change() RETURNS trigger AS $$
BEGIN
    -- TRUNCATE empties a whole throwaway database (test teardown) only when the session says
    -- so explicitly; row UPDATE and DELETE are refused always.
    IF TG_OP = 'TRUNCATE'
       AND coalesce(current_setting('medtrace.allow_truncate', true), '') = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'medtrace ledger table % is append-only: % refused (correct an event with an errorDeclaration)',
        TG_TABLE_NAME, TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""


def forwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(FUNCTION, params=None)
    for table in LEDGER_TABLES:
        schema_editor.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION medtrace_refuse_ledger_change()"
        )
        schema_editor.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION medtrace_refuse_ledger_change()"
        )


def backwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in LEDGER_TABLES:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")


class Migration(migrations.Migration):
    dependencies = [("ledger", "0001_ledger_and_projections")]

    operations = [migrations.RunPython(forwards, backwards)]
