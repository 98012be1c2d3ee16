"""Business calendars: working hours, holidays and the time zone SLA clocks count in."""

from django.apps import AppConfig


class CalendarsConfig(AppConfig):
    name = "accord.calendars"
    label = "calendars"
    verbose_name = "Business calendars"

    def ready(self):
        from accord.core import navigation

        navigation.register(
            "calendars",
            "Calendars",
            "calendars:calendar_list",
            order=58,
            staff_only=True,
            group="service_levels",
        )
