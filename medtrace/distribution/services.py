"""Distribution writes (DESIGN §4: documents, ledger events, projections and audit entries in
one transaction). The functions live in:

- ``orders``: sales orders and the customer licence check;
- ``shipping``: shipments made by scanning units or SSCCs (the shipping event);
- ``receipts``: the partner's receipt and the reconciliation of shipments with what arrived;
- ``returns``: return authorisations (RMA) received into quarantine;
- ``epcis_receipt``: a partner's receipt captured through the EPCIS REST binding.
"""

from __future__ import annotations

from .orders import (
    CUSTOMER_ROLES,
    LICENCES_FOR_BUYING,
    PERM_ORDER_ADD,
    PERM_ORDER_CHANGE,
    PERM_RECEIVE_FOR,
    PERM_SHIP,
    customer_licence,
    party_or_422,
    sales_order_cancel,
    sales_order_close,
    sales_order_confirm,
    sales_order_create,
    shipped_quantities,
)
from .receipts import receipt_check, shipment_receive, shipments_reconcile
from .returns import quarantine_location, rma_close, rma_create, rma_receive
from .shipping import epcs_from_scans, shipment_check, shipment_create

__all__ = [
    "CUSTOMER_ROLES",
    "LICENCES_FOR_BUYING",
    "PERM_ORDER_ADD",
    "PERM_ORDER_CHANGE",
    "PERM_RECEIVE_FOR",
    "PERM_SHIP",
    "customer_licence",
    "epcs_from_scans",
    "party_or_422",
    "quarantine_location",
    "receipt_check",
    "rma_close",
    "rma_create",
    "rma_receive",
    "sales_order_cancel",
    "sales_order_close",
    "sales_order_confirm",
    "sales_order_create",
    "shipment_check",
    "shipment_create",
    "shipment_receive",
    "shipments_reconcile",
    "shipped_quantities",
]
