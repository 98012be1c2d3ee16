"""Test helpers for the API: a client signed in with a user's token."""


def api_client_for(user):
    """A DRF APIClient that sends a fresh API token of ``user``."""
    from rest_framework.test import APIClient

    from accord.users.models import ApiToken

    _token, key = ApiToken.issue(user, "test")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client
