"""Without a valid MEDTRACE_FIELD_KEY the app refuses to start (never stores plain text)."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

import pytest

from tests.test_settings import boot


def _boot(field_key: str | None, var_dir: Path) -> subprocess.CompletedProcess[str]:
    # An empty var dir: no var/medtrace.env from `make run` can supply a key.
    return boot(
        {"MEDTRACE_DEBUG": "1", "MEDTRACE_VAR_DIR": str(var_dir), "MEDTRACE_FIELD_KEY": field_key},
        show="len(settings.FIELD_KEY)",
    )


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        (None, "MEDTRACE_FIELD_KEY is not set"),
        ("", "MEDTRACE_FIELD_KEY is not set"),
        (base64.urlsafe_b64encode(b"k" * 16).decode(), "MEDTRACE_FIELD_KEY decodes to 16 bytes"),
        ("not base64 at all!", "MEDTRACE_FIELD_KEY"),
    ],
)
def test_the_app_refuses_to_start_without_a_valid_field_key(
    tmp_path: Path, key: str | None, expected: str
) -> None:
    result = _boot(key, tmp_path)

    assert result.returncode != 0
    assert expected in result.stderr
    assert "ImproperlyConfigured" in result.stderr


def test_a_valid_key_starts(tmp_path: Path) -> None:
    result = _boot(base64.urlsafe_b64encode(b"k" * 32).decode(), tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "32"
