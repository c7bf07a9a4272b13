from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LedgerConfig(AppConfig):
    name = "medtrace.ledger"
    label = "ledger"
    verbose_name = _("Traceability ledger")

    def ready(self) -> None:
        # Registers the outbox handler (epcis_subscription) and the worker's periodic job
        # (epcis.subscriptions) that deliver EPCIS query subscriptions.
        from . import epcis_push, epcis_push_http  # noqa: F401
