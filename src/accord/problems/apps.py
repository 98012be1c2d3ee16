"""Problem management and the known error database (ISO/IEC 20000 8.1.2, 8.3)."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ProblemsConfig(AppConfig):
    name = "accord.problems"
    label = "problems"
    verbose_name = "Problem management"

    def ready(self):
        from accord.core import navigation, panels, search, warmup
        from accord.core.policy import can, scope_for
        from accord.incidents import views as incident_views
        from accord.incidents.models import Incident

        from . import suggestions, views_problems
        from .models import KnownError, Problem
        from .views_known_errors import suggestions_on_form, suggestions_panel

        search.register(
            Problem,
            title=lambda p: f"{p.number} {p.short_description}",
            body=lambda p: " ".join(filter(None, [p.description, p.symptoms, p.root_cause])),
            fields={"short_description", "description", "symptoms", "root_cause"},
            customer_visible=lambda p: False,
        )
        search.register(
            KnownError,
            title=lambda k: f"{k.number} {k.short_description}",
            body=lambda k: " ".join(filter(None, [k.symptoms, k.root_cause, k.workaround])),
            fields={"short_description", "symptoms", "root_cause", "workaround"},
            customer_visible=lambda k: False,
        )
        for key, label, url_name, order in (
            ("problems", "Problems", "problems:list", 30),
            ("known_errors", "Known errors", "problems:known_error_list", 31),
            ("problem_trends", "Incident trends", "problems:trends", 32),
            ("problem_reports", "Problem reports", "problems:reports", 33),
        ):
            navigation.register(key, label, url_name, order, staff_only=True, group="problems")
        # Web processes build the known errors' word index at start, not on a request.
        warmup.register(suggestions.current)
        panels.register(Incident, views_problems.incident_panel)
        panels.register(Incident, suggestions_panel)
        panels.register_form(Incident, suggestions_on_form)
        incident_views.register_queue_action(
            _("Raise a problem from the selected incidents"),
            "problems:create",
            lambda user: can(user, "add", Problem) and not scope_for(user).read_only,
        )
