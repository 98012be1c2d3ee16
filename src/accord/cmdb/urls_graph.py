"""URL of the CI neighbourhood graph's data (included by urls.py under the cmdb
namespace)."""

from django.urls import path

from . import views_graph

urlpatterns = [
    path("<int:pk>/graph.json", views_graph.CIGraphView.as_view(), name="ci_graph"),
]
