"""Conflicts of a change's planned slot with the forward schedule, each explained:
another change overlapping on the same CI or on a CI directly related to one of its
CIs (either way a failure travels, as the CMDB's impact graph has it), a blackout
window, or time outside an affected service's agreed maintenance window."""

from dataclasses import dataclass

from django.contrib.contenttypes.models import ContentType
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from .choices import SCHEDULED_STATUSES, ConflictKind


@dataclass(frozen=True)
class Found:
    kind: str
    explanation: str
    other_id: int | None = None


def change_ci_ids(change):
    from accord.cmdb.models import CILink

    ct = ContentType.objects.get_for_model(type(change))
    return sorted(
        CILink.objects.filter(content_type=ct, object_id=change.pk).values_list("ci_id", flat=True)
    )


def _local(value):
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")


def find(change, start=None, end=None, *, ci_ids=None, service_ids=None):
    """The conflicts of the change in [start, end) (its planned slot by default)."""
    start = start or change.planned_start
    end = end or change.planned_end
    if start is None or end is None or end <= start:
        return []
    if ci_ids is None:
        ci_ids = change_ci_ids(change)
    if service_ids is None:
        service_ids = set(change.services.values_list("pk", flat=True)) if change.pk else set()
    found = _overlapping_changes(change, start, end, ci_ids)
    found += _blackouts(start, end, service_ids)
    found += _maintenance(start, end, service_ids)
    return found


# CIs asked about per query (SQLite binds each as a parameter).
CHUNK = 5000


def _overlapping_changes(change, start, end, ci_ids):
    """Changes in the slot on the change's CIs or on CIs one step away. Found from
    the CIs (their links to changes, then those changes' slots by key), so the work
    grows with the CIs' neighbourhood, not with the number of changes scheduled."""
    from accord.cmdb import graph
    from accord.cmdb.models import CILink

    from .models import Change

    if not ci_ids:
        return []
    own = set(ci_ids)
    g = graph.current()
    # CIs one step away, either way: what depends on ours, and what ours depend on.
    steps = []
    for direction in ("down", "up"):
        reach = g.search(ci_ids, direction, max_depth=1)
        if reach is not None and reach.levels >= 2:
            steps.append(
                (direction, reach, reach.order[reach.starts[1] : reach.starts[2]].tolist())
            )
    near = own | {g.nodes[idx].ci_id for _d, _r, found in steps for idx in found}
    ct = ContentType.objects.get_for_model(Change)
    wanted = sorted(near)
    links = []
    for at in range(0, len(wanted), CHUNK):
        links += CILink.objects.filter(
            content_type=ct, ci_id__any=wanted[at : at + CHUNK]
        ).values_list("object_id", "ci_id")
    candidates = sorted({other for other, _ci in links if other != change.pk})
    others = {}
    for at in range(0, len(candidates), CHUNK):
        others.update(
            Change.objects.filter(
                pk__any=candidates[at : at + CHUNK],
                status__in=SCHEDULED_STATUSES,
                planned_start__lt=end,
                planned_end__gt=start,
            ).values_list("pk", "number")
        )
    if not others:
        return []
    touched = {}
    for other, ci in links:
        if other in others:
            touched.setdefault(ci, []).append(other)
    names = {}

    def name(ci):
        if ci not in names:
            idx = g.index.get(ci)
            names[ci] = g.nodes[idx].name if idx is not None else str(ci)
        return names[ci]

    out = []
    for ci in sorted(own & set(touched)):
        for other in sorted(touched[ci]):
            out.append(
                Found(
                    ConflictKind.SAME_CI,
                    _("%(other)s also changes %(ci)s in this time.")
                    % {"other": others[other], "ci": name(ci)},
                    other,
                )
            )
    for direction, reach, found in steps:
        for idx in found:
            ci = g.nodes[idx].ci_id
            if ci in own or ci not in touched:
                continue
            mine = g.nodes[g.path(idx, reach.depth, direction)[0]].ci_id
            for other in sorted(touched[ci]):
                text = (
                    _("%(other)s changes %(ci)s, which depends on %(mine)s (changed here).")
                    if direction == "down"
                    else _("%(other)s changes %(ci)s, which %(mine)s (changed here) depends on.")
                )
                out.append(
                    Found(
                        ConflictKind.DEPENDENT_CI,
                        text % {"other": others[other], "ci": name(ci), "mine": name(mine)},
                        other,
                    )
                )
    return out


def _blackouts(start, end, service_ids):
    from .models import BlackoutWindow

    windows = BlackoutWindow.objects.filter(starts_at__lt=end, ends_at__gt=start).filter(
        Q(services__isnull=True) | Q(services__in=service_ids)
    )
    out = []
    for window in windows.distinct().order_by("starts_at"):
        out.append(
            Found(
                ConflictKind.BLACKOUT,
                _("In the blackout window “%(name)s” (%(start)s to %(end)s)%(reason)s.")
                % {
                    "name": window.name,
                    "start": _local(window.starts_at),
                    "end": _local(window.ends_at),
                    "reason": f": {window.reason}" if window.reason else "",
                },
            )
        )
    return out


def _maintenance(start, end, service_ids):
    from .models import MaintenanceWindow

    out = []
    span = (end - start).total_seconds()
    windows = MaintenanceWindow.objects.filter(service_id__in=service_ids).select_related(
        "service", "calendar"
    )
    for window in windows.order_by("service__name"):
        # The engine kept per process for each calendar version: building it anew
        # (weekly hours, holidays) costs more than the question asked of it.
        inside = window.calendar.calendar().between(start, end)
        if inside < int(span):
            out.append(
                Found(
                    ConflictKind.MAINTENANCE,
                    _("Outside %(service)s's maintenance window (%(window)s).")
                    % {"service": window.service, "window": window.calendar},
                )
            )
    return out
