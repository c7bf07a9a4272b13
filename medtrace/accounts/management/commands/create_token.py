"""`medtrace create_token USER [--scope S ...] [--days N]`: print a new API token once."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from medtrace.accounts.models import User
from medtrace.accounts.services import KNOWN_SCOPES, scopes_for, token_create
from medtrace.errors import MedtraceError


class Command(BaseCommand):
    help = "Create an API token for USER and print it (only its hash is stored)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument(
            "--scope",
            action="append",
            dest="scopes",
            default=None,
            help=f"Repeatable. One of: {', '.join(sorted(KNOWN_SCOPES))}. Default: every scope "
            "the user may hold (partner users hold fewer).",
        )
        parser.add_argument(
            "--days",
            type=int,
            default=90,
            help="Days until expiry (default 90; 0 = never expires).",
        )
        parser.add_argument("--name", default="", help="A label to recognise the token by.")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            user = User.objects.get(username=opts["username"])
        except User.DoesNotExist as exc:
            raise CommandError(f"No user named {opts['username']!r}") from exc
        scopes = opts["scopes"] or sorted(scopes_for(user))
        try:
            token, raw = token_create(
                user=user, scopes=scopes, days=opts["days"] or None, name=opts["name"]
            )
        except MedtraceError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(raw)
        expiry = token.expires_at.isoformat() if token.expires_at else "never"
        self.stderr.write(f"scopes: {' '.join(token.scopes)}; expires: {expiry}")
