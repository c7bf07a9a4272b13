"""The `medtrace` console script: Django's manage.py under a friendlier name."""

from __future__ import annotations

import os
import sys


def cli_language(env: dict[str, str] | os._Environ[str]) -> str:
    """Messages of the command line follow the shell's locale: Chinese for zh_*, else English."""
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(name, "")
        if value:
            return "zh-hans" if value.lower().startswith("zh") else "en"
    return "en"


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "medtrace.settings")
    import django
    from django.core.management import execute_from_command_line
    from django.utils import translation

    from medtrace.audit.context import audit_context, new_request_id

    django.setup()
    # Every change a command makes is audited under one command ID (source "cli").
    with (
        translation.override(cli_language(os.environ)),
        audit_context(source="cli", request_id=new_request_id("cli-")),
    ):
        execute_from_command_line(["medtrace", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    main()
