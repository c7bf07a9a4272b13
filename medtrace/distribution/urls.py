from django.urls import path

from . import views, views_partner

app_name = "distribution"

urlpatterns = [
    path("", views.home, name="home"),
    path("orders/new/", views.order_create, name="order_create"),
    path("orders/<int:pk>/", views.order_detail, name="order"),
    path("orders/<int:pk>/ship/", views.ship, name="ship"),
    path("shipments/<int:pk>/", views.shipment_detail, name="shipment"),
    path("shipments/<int:pk>/despatch-note.pdf", views.despatch_note, name="despatch_note"),
    path("incoming/", views_partner.incoming, name="incoming"),
    path("incoming/<int:pk>/", views_partner.receive, name="receive"),
    path("returns/", views.returns, name="returns"),
    path("returns/<int:pk>/", views.return_detail, name="return"),
]
