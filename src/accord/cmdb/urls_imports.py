"""URLs of the CMDB's imports pages (included by urls.py under the cmdb namespace)."""

from django.urls import path

from . import views_imports as views

urlpatterns: list = [
    path("imports/", views.ImportListView.as_view(), name="import_list"),
    path("imports/new/", views.ImportCreateView.as_view(), name="import_create"),
    path("imports/<int:pk>/", views.ImportDetailView.as_view(), name="import_detail"),
    path("export/cis.csv", views.CIExportView.as_view(), name="export_cis"),
    path(
        "export/relationships.csv",
        views.RelationshipExportView.as_view(),
        name="export_relationships",
    ),
]
