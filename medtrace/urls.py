from django.contrib import admin
from django.urls import include, path

from medtrace.api import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("epcis/", include("medtrace.ledger.epcis_urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("accounts/", include("django.contrib.auth.urls")),
    # The lifecycle apps' pages at the root, so each keeps its own namespace ("warehouse:home").
    path("procurement/", include("medtrace.procurement.urls")),
    path("production/", include("medtrace.production.urls")),
    path("quality/", include("medtrace.quality.urls")),
    path("warehouse/", include("medtrace.warehouse.urls")),
    path("distribution/", include("medtrace.distribution.urls")),
    path("service/", include("medtrace.service.urls")),
    path("complaints/", include("medtrace.complaints.urls")),
    path("conditions/", include("medtrace.conditions.urls")),
    # Dashboards (/recalls/dashboard/, /kpis/, /work/): before the recall pages, whose
    # /recalls/<number>/ would otherwise take /recalls/dashboard/.
    path("", include("medtrace.dashboards.urls")),
    path("recalls/", include("medtrace.recalls.urls")),
    path("alerts/", include("medtrace.alerts.urls")),
    path("exports/", include("medtrace.exports.urls")),
    path("imports/", include("medtrace.imports.urls")),
    path("", include("medtrace.web.urls")),
]

# Under /api/ a path that names no endpoint is answered in the API's error shape (JSON).
handler404 = "medtrace.api.not_found"
