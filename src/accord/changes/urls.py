"""URLs of change and release management."""

from . import urls_changes, urls_releases, urls_schedule

app_name = "changes"
urlpatterns = [
    *urls_changes.urlpatterns,
    *urls_schedule.urlpatterns,
    *urls_releases.urlpatterns,
]
