from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def _sync_roles(sender: AppConfig, **kwargs: Any) -> None:
    # Infrastructure, not a domain side effect: keeps the department groups equal to the
    # permission matrix in code after every migrate, so a changed matrix needs no migration.
    from .roles import sync_roles

    sync_roles(verbosity=kwargs.get("verbosity", 0))


class AccountsConfig(AppConfig):
    name = "medtrace.accounts"
    label = "accounts"
    verbose_name = _("Accounts")

    def ready(self) -> None:
        post_migrate.connect(_sync_roles, sender=self, dispatch_uid="medtrace_sync_roles")
