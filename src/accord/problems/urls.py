"""URLs of problem management: problems, known errors, trends and reports."""

from . import urls_known_errors, urls_problems, urls_trends

app_name = "problems"
urlpatterns = [
    *urls_problems.urlpatterns,
    *urls_known_errors.urlpatterns,
    *urls_trends.urlpatterns,
]
