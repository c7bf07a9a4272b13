from django.urls import path

from . import views

app_name = "alerts"

urlpatterns = [
    path("", views.queue, name="queue"),
    path("rules/", views.rule_list, name="rules"),
    path("rules/<slug:kind>/", views.rule_edit, name="rule_edit"),
    path("outbox/", views.outbox_page, name="outbox"),
    path("outbox/<int:message_id>/replay/", views.outbox_replay, name="outbox_replay"),
    path("<int:alert_id>/", views.detail, name="detail"),
    path("<int:alert_id>/do/<slug:action>/", views.act, name="act"),
]
