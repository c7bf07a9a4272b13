from django.urls import path

from . import views

app_name = "conditions"

urlpatterns: list = [
    path("", views.home, name="home"),
    path("import/", views.upload, name="import"),
    path("records/<str:number>/", views.record, name="record"),
    path("profiles/", views.profiles, name="profiles"),
    path("profiles/<int:pk>/", views.profile_change, name="profile_change"),
]
