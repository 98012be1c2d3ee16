"""The bare app's one table (made by ``schema.py``, not by migrations)."""

from django.db import models

TABLE = "bench_bare_incident"


class BareIncident(models.Model):
    customer_id = models.BigIntegerField()
    service_id = models.BigIntegerField(null=True)
    short_description = models.CharField(max_length=160)
    description = models.TextField()
    impact = models.SmallIntegerField()
    urgency = models.SmallIntegerField()
    created = models.DateTimeField()

    class Meta:
        app_label = "bare"
        db_table = TABLE
        managed = False

    def __str__(self):
        return self.short_description
