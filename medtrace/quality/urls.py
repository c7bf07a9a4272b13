from django.urls import path

from . import views, views_inspect

app_name = "quality"

urlpatterns = [
    path("", views.home, name="home"),
    path("inspect/", views_inspect.inspect, name="inspect"),
    path("nonconformances/", views.nc_list, name="nc_list"),
    path("nonconformances/<int:pk>/", views.nc_detail, name="nc_detail"),
    path("holds/", views.holds, name="holds"),
    path("holds/<int:pk>/lift/", views.hold_lift, name="hold_lift"),
    path("release/", views.release, name="release"),
]
