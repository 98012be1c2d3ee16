"""Links between records of any type ("related to"), seen from both ends.

A link is made only between two records the user may see, and a user is only ever
shown the linked records they may see.
"""

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from . import history
from .models import RecordLink
from .policy import can, restrict

# One answer for "no such number" and "not yours to see": a refusal must not reveal
# that another customer's record exists.
NOT_FOUND = gettext_lazy("You have no record with the number %(number)s.")


def link(a, b, user):
    # Linking writes to both records (a link row and a journal event on each).
    if not (can(user, "change", a) and can(user, "change", b)):
        raise PermissionDenied(_("You are not allowed to do this."))
    if type(a) is type(b) and a.pk == b.pk:
        raise ValidationError({"number": _("A record cannot be linked to itself.")})
    for record in (a, b):
        if not restrict(type(record)._default_manager.filter(pk=record.pk), user).exists():
            raise ValidationError({"number": NOT_FOUND % {"number": getattr(b, "number", b.pk)}})
    ct_a = ContentType.objects.get_for_model(type(a))
    ct_b = ContentType.objects.get_for_model(type(b))
    if RecordLink.objects.filter(
        Q(from_type=ct_a, from_id=a.pk, to_type=ct_b, to_id=b.pk)
        | Q(from_type=ct_b, from_id=b.pk, to_type=ct_a, to_id=a.pk)
    ).exists():
        raise ValidationError({"number": _("These records are already linked.")})
    with transaction.atomic():
        RecordLink.objects.create(
            from_type=ct_a, from_id=a.pk, to_type=ct_b, to_id=b.pk, created_by=user
        )
        history.event(a, _("Linked to %(other)s") % {"other": b}, customer_visible=False)
        history.event(b, _("Linked to %(other)s") % {"other": a}, customer_visible=False)


def linked_records(record, user):
    """The records linked to ``record`` that the user may see."""
    ct = ContentType.objects.get_for_model(type(record))
    ends = {}
    for row in RecordLink.objects.filter(
        Q(from_type=ct, from_id=record.pk) | Q(to_type=ct, to_id=record.pk)
    ):
        if row.from_type_id == ct.pk and row.from_id == record.pk:
            ends.setdefault(row.to_type_id, []).append(row.to_id)
        else:
            ends.setdefault(row.from_type_id, []).append(row.from_id)
    found = []
    for type_id, ids in ends.items():
        model = ContentType.objects.get_for_id(type_id).model_class()
        found.extend(restrict(model._default_manager.filter(pk__in=ids), user))
    return found
