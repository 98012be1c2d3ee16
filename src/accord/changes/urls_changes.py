"""URLs (filled in with their views)."""

urlpatterns = []
