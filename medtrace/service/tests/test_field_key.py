"""Without a valid MEDTRACE_FIELD_KEY the app refuses to start (never stores plain text)."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest


def _boot(field_key: str | None, var_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDTRACE_")}
    # An empty var dir: no var/medtrace.env from `make run` can supply a key.
    env.update(MEDTRACE_DEBUG="1", MEDTRACE_VAR_DIR=str(var_dir))
    if field_key is not None:
        env["MEDTRACE_FIELD_KEY"] = field_key
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); "
            "from django.conf import settings; print(len(settings.FIELD_KEY))",
        ],
        env={**env, "DJANGO_SETTINGS_MODULE": "medtrace.settings"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
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
