"""API token authentication: ``Authorization: Token <key>`` or ``Bearer <key>``.

One indexed query per request, its SQL built once, finds the token and its user
together. A read-only token reads and nothing else: any other method is refused
here, before any view (and whatever permission classes it names) runs.
"""

from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import authentication, exceptions, permissions

from accord.core.rows import fetch_one

from .models import ApiToken, hash_token


class TokenAuthentication(authentication.BaseAuthentication):
    keywords = ("token", "bearer")

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower().decode(errors="replace") not in self.keywords:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(_("Invalid token header."))
        try:
            key = header[1].decode()
        except UnicodeError:
            raise exceptions.AuthenticationFailed(_("Invalid token header."))
        token = fetch_one(ApiToken, "digest", hash_token(key), join="user")
        if token is None or not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("Invalid or inactive token."))
        if token.expires and token.expires <= timezone.now():
            raise exceptions.AuthenticationFailed(_("Token has expired."))
        if token.read_only and request.method not in permissions.SAFE_METHODS:
            raise exceptions.PermissionDenied(
                _(
                    "This API token is read only: it may read (GET, HEAD, OPTIONS) but not "
                    "%(method)s. Use a token that is not read only to make changes."
                )
                % {"method": request.method}
            )
        return token.user, token

    def authenticate_header(self, request):
        return "Token"
