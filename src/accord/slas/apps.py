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
        panels.register(Ticket, views.clock_panel)
        calendar_views.DETAIL_PANELS.append(views.calendar_panel)
        navigation.register("agreements", "Agreements", "slas:agreement_list", order=50)
        navigation.register(
            "sla_compliance", "SLA compliance", "slas:compliance", order=55, staff_only=True
        )
