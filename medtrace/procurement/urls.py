from django.urls import path

from . import views, views_receive

app_name = "procurement"

urlpatterns = [
    path("", views.home, name="home"),
    path("orders/new/", views.po_create, name="po_create"),
    path("orders/<int:pk>/", views.po_detail, name="po_detail"),
    path("orders/<int:pk>/receive/", views_receive.receive, name="receive"),
    path("receipts/<int:pk>/", views_receive.receipt_detail, name="receipt_detail"),
    path("receipts/<int:pk>/coc/", views.receipt_coc, name="receipt_coc"),
    path("receipt-lines/<int:pk>/inspect/", views_receive.line_inspect, name="line_inspect"),
    path("inspection/", views_receive.inspection_list, name="inspection_list"),
    path("lots/<int:pk>/", views_receive.lot_detail, name="lot_detail"),
    path("suppliers/", views.supplier_list, name="supplier_list"),
    path("suppliers/<int:pk>/", views.supplier_detail, name="supplier_detail"),
    path("licences/<int:pk>/scan/", views.licence_scan, name="licence_scan"),
]
