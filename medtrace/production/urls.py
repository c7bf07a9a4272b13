from django.urls import path

from . import views, views_station

app_name = "production"

urlpatterns = [
    path("", views.home, name="home"),
    path("work-orders/new/", views.order_new, name="order_new"),
    path("work-orders/<int:pk>/", views.order_detail, name="order_detail"),
    path("work-orders/<int:pk>/status/<str:action>/", views.order_action, name="order_action"),
    path("work-orders/<int:pk>/commission/", views.commission, name="commission"),
    path("work-orders/<int:pk>/assemble/", views_station.assemble, name="assemble"),
    path("work-orders/<int:pk>/process-records/", views.process_record, name="process_record"),
    path("work-orders/<int:pk>/dhr/", views.dhr, name="dhr"),
    path("work-orders/<int:pk>/dhr.pdf", views.dhr_pdf_view, name="dhr_pdf"),
    path("dhr/", views.unit_dhr, name="unit_dhr"),
    path("dhr.pdf", views.unit_dhr_pdf, name="unit_dhr_pdf"),
]
