"""A serial once allocated stays allocated: on PostgreSQL, refuse UPDATE, DELETE and TRUNCATE
of AllocatedSerial, so no code path (or hand-written SQL) can free a serial for reuse.

SQLite has no such guard; there the service is the only writer and the (product, serial)
unique constraint still makes a duplicate impossible. Tests that empty the database opt in to
TRUNCATE with the session setting ``medtrace.allow_truncate`` (conftest.py), as for the ledger.
"""

from django.db import migrations

TABLE = "production_allocatedserial"

FUNCTION = """
CREATE OR REPLACE FUNCTION medtrace_refuse_serial_change() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'TRUNCATE'
       AND coalesce(current_setting('medtrace.allow_truncate', true), '') = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'medtrace % is append-only (a serial is never reused): % refused',
        TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""


def forwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(FUNCTION, params=None)
    schema_editor.execute(
        f"CREATE TRIGGER {TABLE}_append_only BEFORE UPDATE OR DELETE ON {TABLE} "
        f"FOR EACH ROW EXECUTE FUNCTION medtrace_refuse_serial_change()"
    )
    schema_editor.execute(
        f"CREATE TRIGGER {TABLE}_no_truncate BEFORE TRUNCATE ON {TABLE} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION medtrace_refuse_serial_change()"
    )


def backwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP TRIGGER IF EXISTS {TABLE}_append_only ON {TABLE}")
    schema_editor.execute(f"DROP TRIGGER IF EXISTS {TABLE}_no_truncate ON {TABLE}")
    schema_editor.execute("DROP FUNCTION IF EXISTS medtrace_refuse_serial_change()")


class Migration(migrations.Migration):
    dependencies = [("production", "0001_serial_allocation")]

    operations = [migrations.RunPython(forwards, backwards)]
