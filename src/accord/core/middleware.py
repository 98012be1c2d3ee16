"""Request middleware: the actor of web writes, a strict Content Security Policy, and
no copies of signed-in pages kept by the browser."""

from django.utils import timezone
from django.utils.cache import patch_cache_control

from .context import acting_as

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; "
    "form-action 'self'; object-src 'none'"
)


class ActorMiddleware:
    """Every write during a web request is attributed to the signed-in user.

    API views set the actor again once DRF has authenticated the token."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and getattr(user, "time_zone", None):
            # Times are stored in UTC and shown in each user's own zone.
            timezone.activate(user.time_zone)
        else:
            timezone.deactivate()
        with acting_as(user, "web"):
            return self.get_response(request)


# Swagger UI's page carries a small inline style block; it alone may use inline styles.
DOCS_CSP = CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        policy = DOCS_CSP if request.path.startswith("/api/docs/") else CSP
        response.headers.setdefault("Content-Security-Policy", policy)
        response.headers.setdefault("Referrer-Policy", "same-origin")
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and "Cache-Control" not in response:
            # What a signed-in user sees is theirs and changes under them: the browser
            # keeps no copy (none on disk, and "back" asks again instead of showing a
            # page as it was before the actions taken on it).
            patch_cache_control(response, private=True, no_store=True)
        return response
