"""URLs of the CMDB's audits pages (included by urls.py under the cmdb namespace)."""

from django.urls import path

from . import views_audits

urlpatterns = [
    path("audits/", views_audits.AuditListView.as_view(), name="audit_list"),
    path("audits/new/", views_audits.AuditCreateView.as_view(), name="audit_create"),
    path("audits/<int:pk>/", views_audits.AuditDetailView.as_view(), name="audit_detail"),
    path(
        "audits/<int:pk>/items/<int:item_pk>/decide/",
        views_audits.AuditDecideView.as_view(),
        name="audit_decide",
    ),
]
