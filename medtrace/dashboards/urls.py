from django.urls import path

from . import views

app_name = "dashboards"

# Mounted at the root before the recall pages, so /recalls/dashboard/ is not read as the
# campaign number "dashboard".
urlpatterns = [
    path("recalls/dashboard/", views.recall_dashboard, name="recalls"),
    path("kpis/", views.kpi_dashboard, name="kpis"),
    path("work/", views.my_work, name="work"),
]
