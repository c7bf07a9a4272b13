"""`medtrace tokens list [--user U] [--all] [--json]`, `medtrace tokens revoke ID_OR_PREFIX`.

Administration of every user's API tokens (people manage their own on /account/tokens/;
``create_token`` creates one from the command line). Revocations are audited under the
command's ID (source ``cli``).
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from medtrace.accounts.models import ApiToken, User
from medtrace.accounts.services import (
    TOKEN_PREFIX,
    hash_token,
    token_list,
    token_revoke,
    token_status,
)


def _when(value: Any) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else "-"


def _iso(value: Any) -> str | None:
    return value.isoformat() if value else None


class Command(BaseCommand):
    help = "List or revoke API tokens of any user (only their hashes are stored)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        ls = sub.add_parser(
            "list", help="Usable tokens, newest first; with --all also revoked and expired ones."
        )
        ls.add_argument("--user", metavar="USERNAME", help="only this user's tokens")
        ls.add_argument("--all", action="store_true", help="include revoked and expired tokens")
        ls.add_argument("--json", action="store_true", help="print JSON")
        rv = sub.add_parser("revoke", help="Revoke a token by its ID or prefix (from `list`).")
        rv.add_argument("token", metavar="ID_OR_PREFIX")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "list":
            self._list(options)
        else:
            self._revoke(options["token"])

    def _list(self, options: dict[str, Any]) -> None:
        user = None
        if options["user"]:
            user = User.objects.filter(username=options["user"]).first()
            if user is None:
                raise CommandError(f"No user named {options['user']!r}")
        tokens = list(token_list(user=user, live_only=not options["all"]))
        now = timezone.now()
        if options["json"]:
            rows = [
                {
                    "id": t.pk,
                    "prefix": t.prefix,
                    "user": t.user.get_username(),
                    "name": t.name,
                    "scopes": t.scopes,
                    "created_at": _iso(t.created_at),
                    "expires_at": _iso(t.expires_at),
                    "last_used_at": _iso(t.last_used_at),
                    "revoked_at": _iso(t.revoked_at),
                    "status": token_status(t, now=now),
                }
                for t in tokens
            ]
            self.stdout.write(json.dumps(rows, indent=2, ensure_ascii=False))
            return
        if not tokens:
            self.stdout.write("No tokens." if options["all"] else "No usable tokens (--all).")
            return
        header: tuple[str, ...] = (
            "ID",
            "PREFIX",
            "USER",
            "NAME",
            "SCOPES",
            "CREATED",
            "EXPIRES",
            "LAST USED",
        )
        rows_text = [
            (
                str(t.pk),
                t.prefix,
                t.user.get_username(),
                t.name or "-",
                ",".join(t.scopes) or "-",
                _when(t.created_at),
                _when(t.expires_at) if t.expires_at else "never",
                _when(t.last_used_at),
            )
            + ((token_status(t, now=now),) if options["all"] else ())
            for t in tokens
        ]
        if options["all"]:
            header = (*header, "STATUS")
        widths = [max(len(r[i]) for r in [header, *rows_text]) for i in range(len(header))]
        for row in [header, *rows_text]:
            self.stdout.write(
                "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
            )

    def _find(self, ref: str) -> ApiToken:
        ref = ref.strip()
        qs = ApiToken.objects.select_related("user")
        if ref.isdigit():
            found = list(qs.filter(pk=int(ref)))
        elif ref.startswith(TOKEN_PREFIX) and len(ref) > 20:
            # The whole secret (e.g. found in a log): looked up by its hash.
            found = list(qs.filter(token_hash=hash_token(ref)))
        else:
            found = list(qs.filter(prefix=ref))
        if not found:
            raise CommandError(
                f"No token with ID or prefix {ref[:12]!r}; `medtrace tokens list --all` lists them"
            )
        if len(found) > 1:
            ids = ", ".join(str(t.pk) for t in found)
            raise CommandError(f"Several tokens have the prefix {ref!r} (IDs {ids}); give the ID")
        return found[0]

    def _revoke(self, ref: str) -> None:
        token = self._find(ref)
        owner = token.user.get_username()
        if not token_revoke(token=token):
            self.stdout.write(
                f"Token {token.pk} ({token.prefix}…, {owner}) was already revoked on "
                f"{_when(token.revoked_at)}."
            )
            return
        self.stdout.write(f"Revoked token {token.pk} ({token.prefix}…, {owner}).")
