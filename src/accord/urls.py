"""Root URLs: pages, the REST API, its schema and docs, the back office."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from accord.catalogue.api import ServiceViewSet
from accord.changes.api import ChangeViewSet
from accord.changes.api_releases import ReleaseViewSet
from accord.cmdb.api import CIViewSet, RelationshipViewSet
from accord.cmdb.api_imports import ExportViewSet, ImportRunViewSet
from accord.core import views as core_views
from accord.incidents.api import IncidentViewSet, ServiceRequestViewSet
from accord.organizations.api import ContactViewSet, CustomerViewSet
from accord.problems.api import ProblemViewSet
from accord.users.views import ProfileView

router = DefaultRouter()
router.register("incidents", IncidentViewSet, basename="incident")
router.register("requests", ServiceRequestViewSet, basename="servicerequest")
router.register("services", ServiceViewSet, basename="service")
router.register("customers", CustomerViewSet, basename="customer")
router.register("contacts", ContactViewSet, basename="contact")
router.register("cis", CIViewSet, basename="ci")
router.register("relationships", RelationshipViewSet, basename="relationship")
router.register("cmdb/imports", ImportRunViewSet, basename="cmdb-import")
router.register("problems", ProblemViewSet, basename="problem")
router.register("changes", ChangeViewSet, basename="change")
router.register("releases", ReleaseViewSet, basename="release")

urlpatterns = [
    path("", core_views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(template_name="core/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("profile/", ProfileView.as_view(), name="profile"),
    path("search/", core_views.SearchView.as_view(), name="search"),
    path("saved-filters/", core_views.SavedFilterView.as_view(), name="saved_filter"),
    path(
        "attachments/<int:content_type_id>/<int:object_id>/",
        core_views.AttachmentUploadView.as_view(),
        name="attachment_upload",
    ),
    path(
        "attachments/<int:pk>/download/",
        core_views.AttachmentDownloadView.as_view(),
        name="attachment_download",
    ),
    path("", include("accord.incidents.urls")),
    path("catalogue/", include("accord.catalogue.urls")),
    path("customers/", include("accord.organizations.urls")),
    path("calendars/", include("accord.calendars.urls")),
    path("agreements/", include("accord.slas.urls")),
    path("cmdb/", include("accord.cmdb.urls")),
    path("problems/", include("accord.problems.urls")),
    path("changes/", include("accord.changes.urls")),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    # CSV exports of the CMDB (not a record type: no list of their own to scope).
    path(
        "api/cmdb/exports/",
        ExportViewSet.as_view({"get": "list"}),
        name="cmdb-export-list",
    ),
    path(
        "api/cmdb/exports/cis/",
        ExportViewSet.as_view({"get": "cis"}),
        name="cmdb-export-cis",
    ),
    path(
        "api/cmdb/exports/relationships/",
        ExportViewSet.as_view({"get": "relationships"}),
        name="cmdb-export-relationships",
    ),
    path("api/", include(router.urls)),
]
