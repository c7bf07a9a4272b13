from django.urls import path

from . import views

app_name = "complaints"

urlpatterns = [
    path("", views.complaint_list, name="list"),
    path("new/", views.complaint_new, name="new"),
    path("adverse-events/", views.adverse_event_list, name="adverse_events"),
    path("signals/", views.signals, name="signals"),
    path("<str:number>/", views.complaint_detail, name="detail"),
    path("<str:number>/<slug:action>/", views.complaint_action, name="action"),
]
