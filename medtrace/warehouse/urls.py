from django.urls import path

from . import views

app_name = "warehouse"

urlpatterns = [
    path("", views.home, name="home"),
    path("move/", views.move, name="move"),
    path("pack/", views.pack, name="pack"),
    path("containers/<str:sscc>/", views.container, name="container"),
    path("containers/<str:sscc>/label.<str:fmt>", views.container_label, name="container_label"),
    path("pick-lists/", views.pick_lists, name="pick_lists"),
    path("pick-lists/<int:pk>/", views.pick_list, name="pick_list"),
    path("counts/", views.counts, name="counts"),
    path("counts/<int:pk>/", views.count, name="count"),
]
