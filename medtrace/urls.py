from django.contrib import admin
from django.urls import include, path

from medtrace.api import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("epcis/", include("medtrace.ledger.epcis_urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("medtrace.web.urls")),
]
