from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _


class User(AbstractUser):
    """A person. Partner users (a distributor's or hospital's staff) belong to a Party.

    Internal staff have no party; what a partner user may see is scoped by their party's custody
    (DESIGN §9).
    """

    party = models.ForeignKey(
        "masterdata.Party",
        verbose_name=_("partner organisation"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="users",
        help_text=_("Set for partner logins (supplier, distributor, hospital)."),
    )
    printed_name = models.CharField(
        _("printed name"),
        max_length=150,
        blank=True,
        help_text=_("Full name as printed on electronic signatures."),
    )

    @property
    def is_partner(self) -> bool:
        return self.party_id is not None

    def display_name(self) -> str:
        return self.printed_name or self.get_full_name() or self.username


class ApiToken(models.Model):
    """A bearer token for machine clients. Only the SHA-256 of the secret is stored (DESIGN §9)."""

    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="api_tokens")
    name = models.CharField(_("name"), max_length=100, blank=True)
    prefix = models.CharField(
        _("prefix"),
        max_length=12,
        db_index=True,
        help_text=_("First characters of the token, to tell tokens apart."),
    )
    token_hash = models.CharField(max_length=64, unique=True)
    scopes = models.JSONField(_("scopes"), default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"
