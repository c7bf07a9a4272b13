from django.urls import path

from . import (
    views,
    views_implants,
    views_lot,
    views_portal,
    views_records,
    views_tokens,
    views_trace,
    views_unit,
)

app_name = "web"

urlpatterns = [
    path("", views.home, name="home"),
    path("portal/", views_portal.portal, name="portal"),
    path("products/", views.product_list, name="product_list"),
    path("products/<int:pk>/", views.product_detail, name="product_detail"),
    path("products/<int:pk>/label.<str:fmt>", views.product_label, name="product_label"),
    path("scan/", views.scan, name="scan"),
    path("trace/", views_trace.trace_page, name="trace"),
    path("trace/certificate/", views_trace.certificate_page, name="certificate"),
    path("trace/lot/", views_lot.lot_page, name="lot"),
    path("trace/container/", views_lot.container_page, name="container"),
    path("trace/genealogy/", views_lot.genealogy_fragment, name="genealogy"),
    path("trace/datamatrix.svg", views_unit.unit_symbol, name="unit_symbol"),
    path("trace/attachments/<int:pk>/", views_unit.unit_attachment, name="unit_attachment"),
    path("audit/", views_records.audit_trail, name="audit_trail"),
    path("records/<str:object_type>/<str:object_id>/", views_records.record_page, name="record"),
    path(
        "records/<str:object_type>/<str:object_id>/pdf/",
        views_records.record_pdf_view,
        name="record_pdf",
    ),
    path("implants/", views_implants.implant_list, name="implant_list"),
    path("implants/<int:pk>/reveal/", views_implants.implant_reveal, name="implant_reveal"),
    path("account/tokens/", views_tokens.token_page, name="tokens"),
    path("account/tokens/<int:pk>/revoke/", views_tokens.token_revoke_view, name="token_revoke"),
]
