"""Template context every page needs: the menu, the user's scope, the demo banner."""

from django.conf import settings

from . import navigation
from .models import SiteFlag
from .policy import scope_for


def accord(request):
    user = getattr(request, "user", None)
    scope = scope_for(user)
    demo = request.__dict__.get("_accord_demo")
    if demo is None and scope is not None:
        demo = SiteFlag.objects.filter(key="demo_data").exists()
    return {
        "accord_scope": scope,
        "accord_menu": navigation.menu_for(scope),
        "accord_demo": bool(demo),
        "accord_debug": settings.DEBUG,
    }
