"""URLs of the configuration management database."""

from django.urls import path

from . import (
    urls_audits,
    urls_baselines,
    urls_graph,
    urls_imports,
    views,
    views_reltypes,
    views_types,
)

app_name = "cmdb"
urlpatterns = [
    path("", views.CIListView.as_view(), name="ci_list"),
    path("new/", views.ChooseTypeView.as_view(), name="ci_choose_type"),
    path("new/item/", views.CIEditView.as_view(), name="ci_create"),
    path("<int:pk>/", views.CIDetailView.as_view(), name="ci_detail"),
    path("<int:pk>/edit/", views.CIEditView.as_view(), name="ci_edit"),
    path("<int:pk>/impact/", views.ImpactView.as_view(), name="ci_impact"),
    path(
        "<int:pk>/relationships/",
        views.RelationshipAddView.as_view(),
        name="ci_relationship_add",
    ),
    path(
        "<int:pk>/relationships/<int:link_pk>/remove/",
        views.RelationshipRemoveView.as_view(),
        name="ci_relationship_remove",
    ),
    path("types/", views.TypeListView.as_view(), name="type_list"),
    path("types/new/", views_types.TypeEditView.as_view(), name="type_create"),
    path("types/<int:pk>/", views.TypeDetailView.as_view(), name="type_detail"),
    path("types/<int:pk>/edit/", views_types.TypeEditView.as_view(), name="type_edit"),
    path("types/<int:pk>/delete/", views_types.TypeDeleteView.as_view(), name="type_delete"),
    path(
        "relationship-types/new/",
        views_reltypes.RelationshipTypeEditView.as_view(),
        name="reltype_create",
    ),
    path(
        "relationship-types/<int:pk>/edit/",
        views_reltypes.RelationshipTypeEditView.as_view(),
        name="reltype_edit",
    ),
    path(
        "relationship-types/<int:pk>/delete/",
        views_reltypes.RelationshipTypeDeleteView.as_view(),
        name="reltype_delete",
    ),
    path(
        "affected/<int:content_type_id>/<int:object_id>/",
        views.AffectedCIView.as_view(),
        name="affected",
    ),
    *urls_imports.urlpatterns,
    *urls_baselines.urlpatterns,
    *urls_audits.urlpatterns,
    *urls_graph.urlpatterns,
]
