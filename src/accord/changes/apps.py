"""Change and release management (ISO/IEC 20000 5, 9.2, 10)."""

from django.apps import AppConfig


class ChangesConfig(AppConfig):
    name = "accord.changes"
    label = "changes"
    verbose_name = "Change and release management"

    def ready(self):
        from accord.cmdb.actions import register_change_check
        from accord.core import navigation, panels, search
        from accord.incidents.models import Incident
        from accord.problems.models import Problem

        from .actions import authorising_reference
        from .models import Change, Release
        from .views_changes import fixes_panel
        from .views_releases import change_releases_panel

        search.register(
            Change,
            title=lambda c: f"{c.number} {c.short_description}",
            body=lambda c: " ".join(filter(None, [c.description, c.reason])),
            fields={"short_description", "description", "reason"},
            customer_visible=lambda c: False,
        )
        search.register(
            Release,
            title=lambda r: f"{r.number} {r.short_description} {r.release_version}",
            body=lambda r: r.description,
            fields={"short_description", "release_version", "description"},
            customer_visible=lambda r: False,
        )
        for key, label, url_name, order in (
            ("changes", "Change requests", "changes:list", 35),
            ("change_schedule", "Schedule", "changes:schedule", 36),
            ("change_approvals", "My approvals", "changes:my_approvals", 37),
            ("releases", "Releases", "changes:release_list", 38),
            ("change_reports", "Change reports", "changes:reports", 39),
        ):
            navigation.register(key, label, url_name, order, staff_only=True, group="changes")
        # The problems and incidents a change fixes list it, with "Raise a change".
        panels.register(Problem, fixes_panel)
        panels.register(Incident, fixes_panel)
        panels.register(Change, change_releases_panel)
        # The CMDB's changes to live CIs name a real change that allows the work.
        register_change_check(authorising_reference)
