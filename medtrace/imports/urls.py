from django.urls import path

from . import views

app_name = "imports"

urlpatterns = [
    path("", views.import_list, name="list"),
    path("templates/<slug:kind>.<slug:fmt>", views.import_template, name="template"),
    path("<int:pk>/", views.import_detail, name="detail"),
    path("<int:pk>/run/", views.import_run, name="run"),
    path("<int:pk>/progress/", views.import_progress, name="progress"),
]
