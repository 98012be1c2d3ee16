"""Deploying a release, CI by CI (ISO/IEC 20000 10: distribution and installation,
and the CMDB updated as releases go live): each deployment is authorised by one of the
release's changes, cleared for implementation; its go-live writes the release's version
to the CI through the CMDB's own write, recorded as a live change with that change's
number, and a roll-back restores the version the same way. The release's own rules
(status, permission, journal) come from ``releases``."""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accord.core.policy import name_in_journal, restrict

from .choices import DeploymentStatus
from .models import Change, Deployment
from .releases import (
    EDITABLE_STATUSES,
    IMPLEMENTABLE,
    NOT_ACCEPTED,
    VERSION_KEY,
    S,
    _allowed,
    _lock,
    _note,
    _refuse,
    _require_planning,
    _status_label,
)


# --- planning --------------------------------------------------------------------------------
def _check_authorising(release, change, field="change"):
    if change is None:
        raise ValidationError({field: _("Name the change that authorises this deployment.")})
    if not release.changes.filter(pk=change.pk).exists():
        raise ValidationError(
            {
                field: _("%(change)s is not one of this release's changes.")
                % {"change": change.number}
            }
        )
    if change.status not in IMPLEMENTABLE:
        raise ValidationError(
            {
                field: _(
                    "%(change)s is %(status)s: only an approved, scheduled, implementing or "
                    "implemented change authorises a deployment."
                )
                % {"change": change.number, "status": change.get_status_display().lower()}
            }
        )


def plan_deployment(release, user, *, ci, change, planned_for, note=""):
    """The release on one CI, authorised by one of its changes."""
    from accord.cmdb.models import ConfigurationItem

    _allowed(user, release)
    _require_planning(release, "ci")
    if ci is None or not restrict(ConfigurationItem.objects.filter(pk=ci.pk), user).exists():
        raise ValidationError({"ci": _("Name a configuration item you may see.")})
    if change is not None and not restrict(Change.objects.filter(pk=change.pk), user).exists():
        raise ValidationError({"change": _("You have no change %(n)s.") % {"n": change.number}})
    _check_authorising(release, change)
    if planned_for is None:
        raise ValidationError({"planned_for": _("Give the planned time.")})
    if Deployment.objects.filter(release=release, ci=ci).exists():
        _refuse("ci", _("This release already has a deployment on %(ci)s.") % {"ci": ci})
    deployment = Deployment(
        release=release,
        ci=ci,
        change=change,
        planned_for=planned_for,
        note=(note or "").strip()[:1000],
    )
    try:
        with transaction.atomic():
            deployment.save()
            _note(
                release,
                _("Deployment planned on %(ci)s for %(when)s under %(change)s.")
                % {
                    "ci": name_in_journal(release, ci),
                    "when": timezone.localtime(planned_for).strftime("%Y-%m-%d %H:%M"),
                    "change": change.number,
                },
            )
    except IntegrityError:
        raise ValidationError(
            {"ci": _("This release already has a deployment on %(ci)s.") % {"ci": ci}}
        ) from None
    return deployment


def _deployment_of(release, deployment_id):
    deployment = (
        Deployment.objects.select_related("ci__ci_type", "change")
        .filter(release=release, pk=deployment_id)
        .first()
    )
    if deployment is None:
        raise ValidationError({"deployment": _("That deployment is not part of this release.")})
    return deployment


def has_version_attribute(ci):
    return any(d.key == VERSION_KEY for d in ci.ci_type.definitions())


def _write_version(ci, value, change_reference):
    """Set (or clear) the CI's version through the CMDB's own write, which records a
    change to a live CI with the change that authorised it."""
    from accord.cmdb.actions import save_ci

    attributes = dict(ci.attributes or {})
    if value:
        attributes[VERSION_KEY] = value
    else:
        attributes.pop(VERSION_KEY, None)
    ci.attributes = attributes
    try:
        save_ci(ci, change_reference=change_reference)
    except ValidationError as exc:
        messages = exc.messages
        why = _("The CMDB refused the new version of %(ci)s: %(why)s") % {
            "ci": ci,
            "why": " ".join(messages),
        }
        raise ValidationError({"deployment": why}) from None


def complete_deployment(release, user, deployment_id, *, note=""):
    """Go-live on one CI: the deployment is done and the CI's version becomes the
    release's (the old one is kept to roll back to). A CI whose type keeps no version
    gets the deployment in its journal only. An accepted release starts its roll-out
    with its first deployment."""
    from accord.cmdb.models import ConfigurationItem

    _allowed(user, release)
    with transaction.atomic():
        release = _lock(release)
        deployment = _deployment_of(release, deployment_id)
        if release.status not in (S.ACCEPTED, S.DEPLOYING):
            if release.status in EDITABLE_STATUSES:
                raise ValidationError({"deployment": str(NOT_ACCEPTED)})
            _refuse(
                "deployment",
                _("A release %(status)s deploys nothing more.")
                % {"status": _status_label(release)},
            )
        if deployment.status not in (DeploymentStatus.PLANNED, DeploymentStatus.FAILED):
            _refuse(
                "deployment",
                _("The deployment on %(ci)s is already %(status)s.")
                % {"ci": deployment.ci, "status": deployment.get_status_display().lower()},
            )
        change = deployment.change
        _check_authorising(release, change, field="deployment")
        ci = (
            ConfigurationItem.objects.select_for_update(of=("self",))
            .select_related("ci_type")
            .get(pk=deployment.ci_id)
        )
        versioned = has_version_attribute(ci)
        if release.status == S.ACCEPTED:
            release.status = S.DEPLOYING
            release.save()
            _note(
                release,
                _("Status changed to %(status)s.") % {"status": release.get_status_display()},
            )
        note = (note or "").strip()
        if versioned:
            before = str((ci.attributes or {}).get(VERSION_KEY) or "")
            deployment.previous_version = before[:200]
            _write_version(ci, release.release_version, change.number)
            ci_text = _(
                "Release %(release)s deployed under %(change)s: version %(before)s → %(after)s."
            ) % {
                "release": release.number,
                "change": change.number,
                "before": before or "—",
                "after": release.release_version,
            }
        else:
            deployment.previous_version = ""
            ci_text = _(
                "Release %(release)s (version %(version)s) deployed under %(change)s; its "
                "type keeps no version, so no attribute was written."
            ) % {
                "release": release.number,
                "version": release.release_version,
                "change": change.number,
            }
        deployment.status = DeploymentStatus.DONE
        deployment.done_at = timezone.now()
        if note:
            deployment.note = note[:1000]
        deployment.save()
        _note(ci, ci_text)
        _note(
            release,
            _("Deployed on %(ci)s under %(change)s.")
            % {"ci": name_in_journal(release, ci), "change": change.number}
            + (" " + note if note else ""),
        )
    return deployment


def fail_deployment(release, user, deployment_id, *, note=""):
    """A planned deployment that did not go live; nothing is written to the CI."""
    _allowed(user, release)
    note = (note or "").strip()
    if not note:
        raise ValidationError({"note": _("Say what went wrong.")})
    with transaction.atomic():
        release = _lock(release)
        deployment = _deployment_of(release, deployment_id)
        if release.status not in (S.ACCEPTED, S.DEPLOYING):
            # Only a roll-out under way can fail; before acceptance nothing was tried.
            _refuse(
                "deployment",
                _("A release %(status)s is not being rolled out: nothing can have failed.")
                % {"status": _status_label(release)},
            )
        if deployment.status != DeploymentStatus.PLANNED:
            _refuse("deployment", _("Only a planned deployment can be recorded as failed."))
        deployment.status = DeploymentStatus.FAILED
        deployment.done_at = timezone.now()
        deployment.note = note[:1000]
        deployment.save()
        _note(
            deployment.ci,
            _("Deployment of release %(release)s failed: %(note)s")
            % {"release": release.number, "note": note},
        )
        _note(
            release,
            _("Deployment on %(ci)s failed: %(note)s")
            % {"ci": name_in_journal(release, deployment.ci), "note": note},
        )
    return deployment


def roll_back(release, user, deployment_id, *, note=""):
    """Undo a done deployment: the CI's version returns to what it was, recorded in
    the CMDB under the same authorising change."""
    from accord.cmdb.models import ConfigurationItem

    _allowed(user, release)
    note = (note or "").strip()
    if not note:
        raise ValidationError({"note": _("Say why it is rolled back.")})
    with transaction.atomic():
        release = _lock(release)
        deployment = _deployment_of(release, deployment_id)
        if release.status not in (S.DEPLOYING, S.DEPLOYED):
            _refuse(
                "deployment",
                _("A release %(status)s can't be rolled back.")
                % {"status": _status_label(release)},
            )
        if deployment.status != DeploymentStatus.DONE:
            raise ValidationError({"deployment": _("Only a done deployment can be rolled back.")})
        ci = (
            ConfigurationItem.objects.select_for_update(of=("self",))
            .select_related("ci_type")
            .get(pk=deployment.ci_id)
        )
        reference = deployment.change.number if deployment.change_id else ""
        if has_version_attribute(ci):
            current = str((ci.attributes or {}).get(VERSION_KEY) or "")
            if current != release.release_version:
                _refuse(
                    "deployment",
                    _(
                        "%(ci)s is now at version %(current)s, not %(version)s: it was "
                        "changed since the deployment; correct it in the CMDB instead."
                    )
                    % {"ci": ci, "current": current or "—", "version": release.release_version},
                )
            _write_version(ci, deployment.previous_version, reference)
            ci_text = _(
                "Release %(release)s rolled back under %(change)s: version %(before)s → "
                "%(after)s. %(note)s"
            ) % {
                "release": release.number,
                "change": reference or "—",
                "before": release.release_version,
                "after": deployment.previous_version or "—",
                "note": note,
            }
        else:
            ci_text = _("Release %(release)s rolled back under %(change)s. %(note)s") % {
                "release": release.number,
                "change": reference or "—",
                "note": note,
            }
        deployment.status = DeploymentStatus.ROLLED_BACK
        deployment.note = note[:1000]
        deployment.save()
        _note(ci, ci_text)
        _note(
            release,
            _("Rolled back on %(ci)s: %(note)s")
            % {"ci": name_in_journal(release, ci), "note": note},
        )
    return deployment


def remove_deployment(release, user, deployment_id):
    _allowed(user, release)
    with transaction.atomic():
        # A go-live at the same time locks the release too: one of them waits.
        release = _lock(release)
        _require_planning(release, "deployment")
        deployment = _deployment_of(release, deployment_id)
        if deployment.status != DeploymentStatus.PLANNED:
            _refuse(
                "deployment",
                _("Only a planned deployment can be removed; this one is recorded."),
            )
        deployment.delete()
        _note(
            release,
            _("Deployment on %(ci)s removed from the plan.")
            % {"ci": name_in_journal(release, deployment.ci)},
        )
