"""Forms of the service catalogue."""

from accord.core.forms import RecordForm

from .models import SERVICE_FIELDS, Service


class ServiceForm(RecordForm):
    class Meta:
        model = Service
        fields = SERVICE_FIELDS

    def clean_depends_on(self):
        deps = self.cleaned_data["depends_on"]
        self.instance.check_dependencies(deps)
        return deps
