from django.urls import path

from . import views, views_documents, views_notices

app_name = "recalls"

urlpatterns = [
    path("", views.campaign_list, name="list"),
    path("new/", views.campaign_new, name="new"),
    path("portal/", views_notices.portal, name="portal"),
    path("portal/notices/<str:number>/", views_notices.portal_notice, name="portal_notice"),
    path(
        "portal/notices/<str:number>/pdf/",
        views_documents.portal_notice_pdf,
        name="portal_notice_pdf",
    ),
    path("notices/<str:number>/", views_notices.notice_detail, name="notice"),
    path("notices/<str:number>/pdf/", views_documents.notice_pdf, name="notice_pdf"),
    path("<str:number>/", views.campaign_detail, name="detail"),
    path("<str:number>/do/<slug:action>/", views.campaign_action, name="action"),
    path(
        "<str:number>/reports/<slug:kind>.<slug:fmt>",
        views_documents.report,
        name="report",
    ),
]
