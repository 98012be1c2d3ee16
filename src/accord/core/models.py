"""Core tables shared by every record type.

ReferenceSequence backs the reference-number allocator; ObjectChange is the single
append-only change log; JournalEntry and Attachment hang off any record through a
generic relation; SavedFilter keeps a user's named list filters; SearchEntry is the
one full-text index; SiteFlag holds installation facts (such as "demo data loaded").
"""

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils.translation import gettext_lazy as _

from .records import Record


class ReferenceSequence(models.Model):
    """The last number given out for one prefix (INC, REQ, ...)."""

    prefix = models.CharField(max_length=8, primary_key=True)
    last_value = models.BigIntegerField(default=0)

    def __str__(self):
        return f"{self.prefix}:{self.last_value}"


class ObjectChange(models.Model):
    """One write to one record: who, when, through what, and each field's before/after."""

    class Action(models.TextChoices):
        CREATE = "create", _("Created")
        UPDATE = "update", _("Updated")
        DELETE = "delete", _("Deleted")

    time = models.DateTimeField(db_index=True)
    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+")
    object_id = models.BigIntegerField()
    object_repr = models.CharField(max_length=200)
    action = models.CharField(max_length=10, choices=Action.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=150)
    via = models.CharField(max_length=50)
    changes = models.JSONField(default=dict)

    class Meta:
        indexes = [models.Index(fields=["content_type", "object_id", "time"])]
        ordering = ["-time", "-id"]

    def __str__(self):
        return f"{self.object_repr} {self.action} by {self.actor_label}"


class JournalEntry(models.Model):
    """A line in a record's journal: an internal work note, a reply the customer sees,
    or an event the system wrote (status changed, priority overridden, ...)."""

    class Kind(models.TextChoices):
        WORK_NOTE = "work_note", _("Work note")
        REPLY = "reply", _("Reply")
        EVENT = "event", _("Event")

    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+")
    object_id = models.BigIntegerField()
    record = GenericForeignKey("content_type", "object_id")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    customer_visible = models.BooleanField(default=False)
    body = models.TextField(max_length=20000)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    author_label = models.CharField(max_length=150)
    created = models.DateTimeField(db_index=True)

    class Meta:
        indexes = [models.Index(fields=["content_type", "object_id", "created"])]
        ordering = ["created", "id"]
        verbose_name_plural = _("journal entries")

    def __str__(self):
        return f"{self.get_kind_display()} by {self.author_label}"


def attachment_path(instance, filename):
    # The stored name never comes from the uploader: no path tricks, no clashes.
    import uuid

    return f"attachments/{instance.content_type_id}/{uuid.uuid4().hex}"


class Attachment(models.Model):
    """A file attached to a record. Always served as a download, never inline."""

    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+")
    object_id = models.BigIntegerField()
    record = GenericForeignKey("content_type", "object_id")
    file = models.FileField(upload_to=attachment_path, max_length=200)
    filename = models.CharField(max_length=200)
    size = models.PositiveBigIntegerField()
    customer_visible = models.BooleanField(default=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["content_type", "object_id"])]
        ordering = ["created", "id"]

    def __str__(self):
        return self.filename


class SavedFilter(models.Model):
    """A named set of list filters a user keeps for one list page."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    list_name = models.CharField(max_length=100)
    name = models.CharField(_("name"), max_length=100)
    query = models.CharField(max_length=2000)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "list_name", "name"], name="savedfilter_unique")
        ]
        ordering = ["name"]

    def __str__(self):
        return self.name


class SearchEntry(models.Model):
    """One searchable record: its title and text, and whose it is (for visibility)."""

    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE, related_name="+")
    object_id = models.BigIntegerField()
    customer_id = models.BigIntegerField(null=True, blank=True)
    customer_visible = models.BooleanField(default=False)
    title = models.CharField(max_length=300)
    body = models.TextField(blank=True)
    updated = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["content_type", "object_id"], name="searchentry_unique")
        ]
        indexes = [models.Index(fields=["customer_id"])]

    def __str__(self):
        return self.title


class RecordLink(models.Model):
    """A link between two records of any type ("related to"), shown on both."""

    from_type = models.ForeignKey(ContentType, on_delete=models.CASCADE, related_name="+")
    from_id = models.BigIntegerField()
    to_type = models.ForeignKey(ContentType, on_delete=models.CASCADE, related_name="+")
    to_id = models.BigIntegerField()
    created = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["from_type", "from_id", "to_type", "to_id"], name="recordlink_unique"
            )
        ]
        indexes = [models.Index(fields=["to_type", "to_id"])]

    def __str__(self):
        return f"{self.from_type_id}:{self.from_id} -> {self.to_type_id}:{self.to_id}"


class SiteFlag(models.Model):
    """A fact about this installation, such as whether demo data is loaded."""

    key = models.CharField(max_length=50, primary_key=True)
    value = models.CharField(max_length=200, blank=True)

    def __str__(self):
        return self.key


__all__ = [
    "Attachment",
    "JournalEntry",
    "ObjectChange",
    "Record",
    "RecordLink",
    "ReferenceSequence",
    "SavedFilter",
    "SearchEntry",
    "SiteFlag",
]
