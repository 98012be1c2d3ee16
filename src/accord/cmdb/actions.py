"""The CMDB's writes, whatever the entry point (page, API, import, audit): CIs saved
with their attributes checked, relationships added and removed under the type's
rules, records linked to CIs. Each keeps the history; the impact graph hears of
every change through signals (``graph.py``)."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from accord.core import history
from accord.core.context import current_actor
from accord.core.policy import can, name_in_journal, seen_by_every_reader, visible_by_pk

from .choices import CIStatus
from .models import (
    CILink,
    ConfigurationItem,
    LiveChange,
    Relationship,
)

M2M_FIELDS = ("customers", "services")
# Who checks the authorising change named for work on a live CI: change management
# (a later app) registers its check here when it is installed; without one the
# reference is kept as typed.
CHANGE_CHECKS = []


def register_change_check(check):
    """``check(user, reference, field)`` returns the reference as stored, or raises
    ValidationError naming ``field``."""
    CHANGE_CHECKS[:] = [check]


def check_change_reference(user, reference, field="change_reference"):
    """The authorising change a user names (blank: none), checked and normalised."""
    reference = " ".join(str(reference or "").split())
    if not reference:
        return ""
    if CHANGE_CHECKS:
        return CHANGE_CHECKS[0](user, reference, field)
    return reference[:50]


def _live_change(ci, summary, change_reference):
    actor = current_actor()
    LiveChange.objects.create(
        ci=ci,
        by_id=actor.user_id,
        actor=actor.label[:100],
        summary=summary[:500],
        change_reference=(change_reference or "").strip()[:50],
    )


def save_ci(ci, *, customers=None, services=None, change_reference="", expected_version=None):
    """Create or update ``ci`` (its fields already set) and, when given, its customers
    and services. Checks the fields and typed attributes (ValidationError naming the
    field); a change to a live CI is recorded with the change that authorised it."""
    ci.full_clean(exclude=["customers", "services"], validate_unique=True)
    creating = ci._state.adding
    was_live = not creating and ci.loaded_value("status") == CIStatus.LIVE
    with transaction.atomic():
        before = history.m2m_snapshot(None if creating else ci, M2M_FIELDS)
        changes = {} if creating else ci.tracked_changes()
        ci.save(expected_version=expected_version)
        m2m_changed = False
        if customers is not None:
            ci.customers.set(customers)
        if services is not None:
            ci.services.set(services)
        if not creating and (customers is not None or services is not None):
            m2m_changed = history.m2m_snapshot(ci, M2M_FIELDS) != before
            history.record_m2m(ci, before)
        if was_live and (changes or m2m_changed):
            names = [str(ci._meta.get_field(n).verbose_name) for n in changes]
            names += [str(ci._meta.get_field(n).verbose_name) for n in M2M_FIELDS if m2m_changed]
            _live_change(
                ci, _("Changed: %(fields)s") % {"fields": ", ".join(names)}, change_reference
            )
    return ci


def check_relationship(source, target, rel_type):
    """The type's rules for source —rel_type→ target; ValidationError naming the
    field otherwise."""
    if source.pk == target.pk:
        raise ValidationError({"target": _("A CI cannot be related to itself.")})
    if Relationship.objects.filter(source=source, target=target, rel_type=rel_type).exists():
        raise ValidationError(
            {
                "target": _("%(source)s already %(type)s %(target)s.")
                % {"source": source, "type": rel_type, "target": target}
            }
        )
    pairs = list(rel_type.allowed_pairs.values_list("source_type_id", "target_type_id"))
    if pairs and (source.ci_type_id, target.ci_type_id) not in pairs:
        raise ValidationError(
            {
                "rel_type": _("A %(source_type)s cannot %(type)s a %(target_type)s.")
                % {
                    "source_type": source.ci_type,
                    "type": rel_type,
                    "target_type": target.ci_type,
                }
            }
        )
    if rel_type.acyclic and _reaches(target.pk, source.pk, rel_type.pk):
        raise ValidationError(
            {
                "target": _(
                    "%(target)s already %(type)s %(source)s (through other CIs): "
                    "this link would close a loop."
                )
                % {"source": source, "type": rel_type, "target": target}
            }
        )


def _reaches(start, goal, rel_type_id):
    """Does ``start`` lead to ``goal`` along links of one type (source → target)?"""
    seen, frontier = {start}, [start]
    while frontier:
        nxt = list(
            Relationship.objects.filter(rel_type_id=rel_type_id, source_id__any=frontier)
            .values_list("target_id", flat=True)
            .distinct()
        )
        if goal in nxt:
            return True
        frontier = [n for n in nxt if n not in seen]
        seen.update(frontier)
    return False


def add_relationship(user, source, target, rel_type, *, note="", change_reference=""):
    """Link two CIs the user may see and change; the authorising change, when named,
    must be one that allows the work."""
    if not can(user, "add", Relationship):
        raise PermissionDenied
    for ci in (source, target):
        if visible_by_pk(ConfigurationItem, user, ci.pk) is None:
            raise ValidationError({"target": _("No such configuration item.")})
    check_relationship(source, target, rel_type)
    change_reference = check_change_reference(user, change_reference)
    with transaction.atomic():
        link = Relationship(source=source, target=target, rel_type=rel_type, note=note)
        link.save()
        _journal_link(source, target, rel_type, _("Now"), _("Relationship added"), change_reference)
    return link


def _ci_named_for(host, ci):
    """How ``host``'s journal names ``ci``: by name if all its readers may see it, else
    by id (those who may see it find it on the page; the others learn no name)."""
    if seen_by_every_reader(host, ci):
        return str(ci)
    return _("configuration item #%(id)s") % {"id": ci.pk}


def _journal_link(source, target, rel_type, lead, what, change_reference):
    """Both ends' journals read the link their own way round; a live end records the
    change with its authorising change. An end some readers of the other may not see
    is named by its id only."""
    for ci, name, other in (
        (source, rel_type.name, target),
        (target, rel_type.reverse_name, source),
    ):
        other_name = _ci_named_for(ci, other)
        history.event(
            ci,
            _("%(lead)s %(type)s %(other)s.") % {"lead": lead, "type": name, "other": other_name},
            customer_visible=False,
        )
        if ci.status == CIStatus.LIVE:
            _live_change(ci, f"{what}: {name} {other_name}", change_reference)


def remove_relationship(user, link, *, change_reference=""):
    if not can(user, "change", Relationship):
        raise PermissionDenied
    change_reference = check_change_reference(user, change_reference)
    source, target, rel_type = link.source, link.target, link.rel_type
    with transaction.atomic():
        link.delete()
        _journal_link(
            source, target, rel_type, _("No longer"), _("Relationship removed"), change_reference
        )


def link_record(ci, record, user):
    """Name ``ci`` on a record (an incident's affected CI, say); journalled on both."""
    from django.contrib.contenttypes.models import ContentType

    ct = ContentType.objects.get_for_model(type(record))
    with transaction.atomic():
        link, created = CILink.objects.get_or_create(
            ci=ci, content_type=ct, object_id=record.pk, defaults={"created_by": user}
        )
        if created:
            history.event(
                record,
                _("Configuration item %(ci)s linked.") % {"ci": _ci_named_for(record, ci)},
                customer_visible=False,
            )
            # The CI's page lists the records that name it, each reader those they may see.
            history.event(
                ci,
                _("Named on %(record)s.") % {"record": name_in_journal(ci, record)},
                customer_visible=False,
            )
    return link


def unlink_record(ci, record):
    from django.contrib.contenttypes.models import ContentType

    ct = ContentType.objects.get_for_model(type(record))
    with transaction.atomic():
        deleted, _rows = CILink.objects.filter(ci=ci, content_type=ct, object_id=record.pk).delete()
        if deleted:
            history.event(
                record,
                _("Configuration item %(ci)s unlinked.") % {"ci": _ci_named_for(record, ci)},
                customer_visible=False,
            )
