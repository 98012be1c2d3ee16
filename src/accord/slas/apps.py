"""Service level management (ISO/IEC 20000 6.1): agreements and SLA clocks."""

from django.apps import AppConfig


class SlasConfig(AppConfig):
    name = "accord.slas"
    label = "slas"
    verbose_name = "Service level management"

    def ready(self):
        from accord.calendars import views as calendar_views
        from accord.calendars.models import Calendar
        from accord.core import history, navigation, panels
        from accord.core.records import record_saved
        from accord.incidents.models import Ticket

        from . import receivers, views

        for model in Ticket.__subclasses__():
            record_saved.connect(receivers.ticket_saved, sender=model, weak=False)
            history.journal_added.connect(receivers.journal_added, sender=model, weak=False)
        record_saved.connect(receivers.calendar_saved, sender=Calendar, weak=False)
        self._watch_configuration()
        panels.register(Ticket, views.clock_panel)
        calendar_views.DETAIL_PANELS.append(views.calendar_panel)
        navigation.register(
            "agreements", "Agreements", "slas:agreement_list", order=50, group="service_levels"
        )
        navigation.register(
            "sla_compliance",
            "SLA compliance",
            "slas:compliance",
            order=55,
            staff_only=True,
            group="service_levels",
        )

    def _watch_configuration(self):
        """Every way the SLA configuration can change tells the clocks' cache."""
        from django.db.models import signals

        from accord.calendars.models import Calendar
        from accord.core.records import record_saved

        from .clocks import config_changed
        from .models import Agreement, EscalationRule, Target

        for model in (Agreement, Calendar):
            record_saved.connect(config_changed, sender=model, weak=False)
            signals.post_delete.connect(config_changed, sender=model, weak=False)
        for model in (Target, EscalationRule):
            signals.post_save.connect(config_changed, sender=model, weak=False)
            signals.post_delete.connect(config_changed, sender=model, weak=False)
        for through in (Agreement.services.through, Agreement.supports.through):
            signals.m2m_changed.connect(config_changed, sender=through, weak=False)
