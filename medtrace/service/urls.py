from django.urls import path

from . import views

app_name = "service"

urlpatterns = [
    path("", views.home, name="home"),
    path("install/", views.install, name="install"),
    path("installations/<int:pk>/", views.installation, name="installation"),
    path("visit/", views.visit, name="visit"),
    path("plans/", views.plans, name="plans"),
    path("tickets/new/", views.ticket_new, name="ticket_new"),
    path("tickets/<int:pk>/", views.ticket, name="ticket"),
    path("tickets/<int:pk>/<slug:action>/", views.ticket_action, name="ticket_action"),
    path("scrap/", views.scrap, name="scrap"),
    path("scrap/<int:pk>/", views.scrap_detail, name="scrap_detail"),
]
