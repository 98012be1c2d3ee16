"""The API permission and pagination classes: kept apart from the API base classes because DRF loads
it while importing its own views."""

from rest_framework import pagination, permissions

from .policy import can

METHOD_ACTIONS = {
    "GET": "view",
    "HEAD": "view",
    "OPTIONS": "view",
    "POST": "add",
    "PUT": "change",
    "PATCH": "change",
    "DELETE": "delete",
}


class RecordPermission(permissions.BasePermission):
    """Signed in, and the role may do this to this record type."""

    def has_permission(self, request, view):
        if not (request.user and request.user.is_authenticated):
            return False
        model = getattr(view, "policy_model", None) or getattr(
            getattr(view, "queryset", None), "model", None
        )
        if model is None:
            return True
        # A viewset names the policy action of its extra actions in ``action_policy``.
        action = getattr(view, "action_policy", {}).get(getattr(view, "action", None))
        return can(request.user, action or METHOD_ACTIONS.get(request.method, "change"), model)


class CursorPagination(pagination.CursorPagination):
    page_size = 50
    max_page_size = 200
    page_size_query_param = "page_size"
    ordering = "-id"
