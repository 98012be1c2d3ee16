"""Forms of the service catalogue."""

from accord.core.forms import RecordForm

from .models import Service


class ServiceForm(RecordForm):
    class Meta:
        model = Service
        fields = [
            "name",
            "description",
            "owner",
            "status",
            "customers",
            "service_hours",
            "support_team",
            "depends_on",
        ]

    def clean_depends_on(self):
        deps = self.cleaned_data["depends_on"]
        if self.instance.pk and any(d.pk == self.instance.pk for d in deps):
            from django.core.exceptions import ValidationError
            from django.utils.translation import gettext as _

            raise ValidationError(_("A service cannot depend on itself."))
        return deps
