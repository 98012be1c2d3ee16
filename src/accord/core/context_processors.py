"""Template context every page needs: the menu, the user's scope, the demo banner."""

from django.conf import settings
from django.core.cache import cache

from . import navigation
from .models import SiteFlag
from .policy import scope_for


def accord(request):
    user = getattr(request, "user", None)
    scope = scope_for(user)
    demo = False
    if scope is not None:
        # Whether demo data is loaded changes once in an installation's life: asked of
        # the database once a minute per process, not on every page.
        demo = cache.get_or_set(
            "accord:demo-data", lambda: SiteFlag.objects.filter(key="demo_data").exists(), 60
        )
    menu = navigation.menu_for(scope)
    path = getattr(request, "path", "")
    # The entry whose address is the longest start of this page's (agreements and
    # the compliance report below them are two entries).
    matching = [i for i in menu if path.startswith(i.url)]
    active = max(matching, key=lambda i: len(i.url)).key if matching else None
    return {
        "accord_scope": scope,
        "accord_menu": navigation.menu_bar(menu),
        "accord_active": active,
        "accord_active_group": next((i.group for i in menu if i.key == active), ""),
        "accord_demo": bool(demo),
        "accord_debug": settings.DEBUG,
    }
