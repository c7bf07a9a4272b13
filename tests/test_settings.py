"""Settings come from the environment, and bad values stop the process with a clear message."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping

import pytest

TEST_FIELD_KEY = "bXlweS1vbmx5LWtleS1ub3QtZm9yLWFueS1kYXRhISE="


def boot(
    env: Mapping[str, str | None],
    *,
    show: str = "settings.DATABASES['default']['ENGINE']",
) -> subprocess.CompletedProcess[str]:
    """Start Django in a fresh process with only ``env`` of the MEDTRACE_ variables (a valid
    field key unless ``env`` sets one; ``None`` removes a variable) and print ``show``."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("MEDTRACE_")}
    full["MEDTRACE_FIELD_KEY"] = TEST_FIELD_KEY
    for name, value in env.items():
        if value is None:
            full.pop(name, None)
        else:
            full[name] = value
    return subprocess.run(
        [
            sys.executable,
            "-c",
            f"import django; django.setup(); from django.conf import settings; print({show})",
        ],
        env={**full, "DJANGO_SETTINGS_MODULE": "medtrace.settings"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_default_database_is_sqlite_under_var(tmp_path) -> None:
    result = boot({"MEDTRACE_DEBUG": "1", "MEDTRACE_VAR_DIR": str(tmp_path)})

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "django.db.backends.sqlite3"


def test_a_postgresql_url_selects_postgresql() -> None:
    result = boot(
        {"MEDTRACE_DEBUG": "1", "MEDTRACE_DATABASE_URL": "postgresql://u@localhost:5432/medtrace"}
    )

    assert result.stdout.strip() == "django.db.backends.postgresql"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"MEDTRACE_DEBUG": "maybe"}, "MEDTRACE_DEBUG='maybe' is not a boolean"),
        ({"MEDTRACE_DEBUG": "1", "MEDTRACE_DATABASE_URL": "mysql://x/y"}, "scheme 'mysql'"),
        ({"MEDTRACE_DEBUG": "0"}, "MEDTRACE_SECRET_KEY is not set"),
        ({"MEDTRACE_SECRET_KEY": "short"}, "MEDTRACE_SECRET_KEY is too short"),
    ],
)
def test_a_bad_setting_fails_loudly_naming_the_variable(env: dict[str, str], expected: str) -> None:
    result = boot(env)

    assert result.returncode != 0
    assert expected in result.stderr
