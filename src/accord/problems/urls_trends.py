"""URLs of trend analysis and of the reports (included by urls.py under the problems
namespace, mounted at /problems/)."""

from django.urls import path

from . import views_reports, views_trends

urlpatterns = [
    path("trends/", views_trends.TrendView.as_view(), name="trends"),
    path("trends/start/", views_trends.TrendStartView.as_view(), name="trend_start"),
    path(
        "trends/runs/<int:pk>/status/",
        views_trends.TrendStatusView.as_view(),
        name="trend_status",
    ),
    path(
        "trends/clusters/<int:pk>/",
        views_trends.TrendClusterView.as_view(),
        name="trend_cluster",
    ),
    path(
        "trends/clusters/<int:pk>/raise/",
        views_trends.TrendRaiseView.as_view(),
        name="trend_raise",
    ),
    path(
        "trends/clusters/<int:pk>/dismiss/",
        views_trends.TrendDismissView.as_view(),
        name="trend_dismiss",
    ),
    path(
        "trends/set-aside/<int:pk>/restore/",
        views_trends.TrendRestoreView.as_view(),
        name="trend_restore",
    ),
    path("reports/", views_reports.ReportsView.as_view(), name="reports"),
]
