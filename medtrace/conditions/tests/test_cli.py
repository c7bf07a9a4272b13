"""`medtrace conditions import`: dry run, import, refusal."""

from __future__ import annotations

from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from medtrace.conditions.models import ConditionRecord
from medtrace.trace.tests import factories as f

from . import factories as cf

pytestmark = pytest.mark.django_db


def test_the_cli_dry_runs_then_imports_a_logger_file(w: f.World, tmp_path: Path) -> None:
    [unit] = cf.commission(w, "CLI1")
    cf.profile(w.device, "storage", temperature_max=8)
    path = tmp_path / "wh.csv"
    path.write_text("time,temperature\n2026-03-10 08:00,5\n2026-03-10 08:05,8.6\n")
    args: list[Any] = ["conditions", "import", str(path), "--target", unit,
                       "--location", w.warehouse.code, "--device", "LOG-1"]  # fmt: skip

    out = StringIO()
    call_command(*args, "--dry-run", stdout=out)
    assert "wh.csv: 2 rows, 2 readings" in out.getvalue()
    assert "excursion: Temperature 8.6 °C at 2026-03-10 08:05:00 +0800" in out.getvalue()
    assert "Dry run: nothing stored." in out.getvalue()
    assert ConditionRecord.objects.count() == 0

    out = StringIO()
    call_command(*args, stdout=out)
    record = ConditionRecord.objects.get()
    assert f"{record.number}: 2 readings, event " in out.getvalue()
    assert "nonconformances NC-" in out.getvalue()


def test_the_cli_refuses_a_bad_file_naming_the_rows(w: f.World, tmp_path: Path) -> None:
    [unit] = cf.commission(w, "CLI2")
    path = tmp_path / "bad.csv"
    path.write_text("time,temperature\nx,5\n2026-03-10 08:05,y\n")

    with pytest.raises(CommandError) as refused:
        call_command("conditions", "import", str(path), "--target", unit,
                     "--location", w.warehouse.sgln, stdout=StringIO())  # fmt: skip

    text = str(refused.value)
    assert text.startswith("Nothing was imported. row 2, time:")
    assert "row 3, temperature: 'y' is not a number" in text
    assert ConditionRecord.objects.count() == 0
