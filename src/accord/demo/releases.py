"""The demo's release management: release policies for the business applications and
three releases at different stages, written through the same actions a release
manager's work goes through (so each has its history and journal):

- Payroll monthly update 12.5, accepted and deployed: its change was approved by the Applications
  lead, and the go-live wrote version 12.5 to the payroll application in the CMDB,
  recorded as a live change under that change's number;
- the Northwind customer portal 3.9, in acceptance, one criterion signed off;
- ERP 2018 CU41, planned, with its build, test and roll-out dates.

It uses the users, services and CIs the demo loader creates, and gives each step a
believable time in the past (the clock is moved along, as the loader does).
"""

import datetime as dt

from accord.catalogue.models import Service
from accord.cmdb.models import ConfigurationItem, LiveChange
from accord.core.context import acting_as
from accord.core.policy import restrict
from accord.organizations.models import Customer
from accord.users.models import Team, User

from . import data
from .loader import VIA, Clock, simulated_time

DAY = dt.timedelta(days=1)
HOUR = dt.timedelta(hours=1)

POLICIES = {
    data.PAYROLL: (
        "Minor releases monthly, in the first week (before the payroll cut-off on the "
        "20th); never between the 20th and the end of the month.",
        "Major: the vendor's yearly version, with a parallel payroll run. Minor: the "
        "vendor's monthly update. Emergency: legal or tax fixes that cannot wait.",
        "The vendor's version number (12.5); the release is named “Payroll <version>”.",
        "Roll back when a test payroll run differs from the previous month's by more "
        "than the expected changes, or within 24 hours of go-live on any calculation "
        "error: restore the previous version and the database snapshot.",
    ),
    data.ERP: (
        "Cumulative updates quarterly, at a weekend; none in the last and first week of "
        "a financial quarter.",
        "Major: a new ERP version (a project of its own). Minor: a cumulative update. "
        "Emergency: security fixes.",
        "“ERP <version> CU<n>”, as Microsoft names the cumulative update.",
        "Roll back on a failed posting test after go-live: restore the VM snapshot taken "
        "before the update.",
    ),
    data.PORTAL: (
        "Every four to six weeks, on a Tuesday evening.",
        "Minor: features and fixes. Emergency: security fixes, any day.",
        "Semantic versions (3.9, 3.9.1).",
        "Redeploy the previous container image; the database migrations are written to be undone.",
    ),
}


class _Releases:
    def __init__(self, now):
        self.now = now
        self.clock = Clock(now)
        self.users = {u.username: u for u in User.objects.filter(username__in=_usernames())}
        self.services = {s.name: s for s in Service.objects.filter(name__in=POLICIES)}
        self.team = Team.objects.get(name="Applications")
        self.northwind = Customer.objects.get(code="northwind")

    def at(self, days_ago, hours=0):
        self.clock.value = self.now - days_ago * DAY + hours * HOUR
        return self.clock.value

    def load(self):
        with simulated_time(self.clock):
            self.at(60)
            self._policies()
            out = [self._payroll(), self._portal(), self._erp()]
            self.clock.value = self.now
        return out

    def _policies(self):
        from accord.changes import releases

        owner = self.users["owner"]
        with acting_as(owner, VIA):
            for name, (frequency, kinds, naming, rollback) in POLICIES.items():
                releases.save_policy(
                    self.services[name],
                    owner,
                    {
                        "frequency": frequency,
                        "kinds": kinds,
                        "naming": naming,
                        "rollback": rollback,
                    },
                )

    def _change(self, requester, short, reason, start, *, approve=True):
        """A normal change of the Applications team, approved by its manager."""
        from accord.changes import actions
        from accord.changes.models import RiskQuestion

        with acting_as(requester, VIA):
            change = actions.create_change(
                requester,
                {
                    "kind": "normal",
                    "short_description": short,
                    "reason": reason,
                    "implementation_plan": "1. Snapshot the VM and the database.\n"
                    "2. Install the update.\n3. Run the smoke tests.",
                    "backout_plan": "Restore the snapshots taken in step 1.",
                    "test_plan": "Smoke tests of the main screens and one test run.",
                    "planned_start": start,
                    "planned_end": start + 3 * HOUR,
                    "assignment_team": self.team,
                    "assignee": requester,
                },
            )
            actions.transition(change, requester, "submit")
            # Low risk: each question's least risky answer (the team's manager approves).
            actions.assess_risk(
                change,
                requester,
                {
                    q.pk: q.options.order_by("score", "pk")[0].pk
                    for q in RiskQuestion.objects.filter(active=True)
                },
            )
            actions.transition(change, requester, "assess")
            actions.transition(change, requester, "request_approval")
        if approve:
            manager = self.team.manager
            self.clock.value += 4 * HOUR
            with acting_as(manager, VIA):
                actions.decide(change, manager, "approve", comment="Tested in acceptance; go.")
        return change

    def _through_acceptance(self, release, manager, criteria, days):
        """Build, test and acceptance steps on the given days ago; criteria signed off
        as given ((text, approver, decision or None))."""
        from accord.changes import releases

        build, test, acceptance = days
        for name, when in (
            ("start_build", build),
            ("start_test", test),
            ("start_acceptance", acceptance),
        ):
            self.at(when)
            with acting_as(manager, VIA):
                release = releases.transition(release, manager, name)
        added = []
        with acting_as(manager, VIA):
            for text, approver, _decision in criteria:
                added.append(releases.add_criterion(release, manager, text=text, approver=approver))
        for criterion, (_text, approver, decision) in zip(added, criteria, strict=True):
            if decision is None:
                continue
            self.clock.value += 5 * HOUR
            with acting_as(approver, VIA):
                releases.sign_off(release, approver, criterion.pk, decision, comment="Checked.")
        return release

    def _payroll(self):
        from accord.changes import actions, deployments, releases

        manager, lead = self.users["owner"], self.users["fatima.rahman"]
        specialist = self.users["daniel.novak"]
        service = self.services[data.PAYROLL]
        app = ConfigurationItem.objects.get(name="Payroll (multi-tenant)")
        go_live = self.now - 6 * DAY + 19 * HOUR
        self.at(30)
        change = self._change(
            specialist,
            "Update payroll to 12.5",
            "The vendor's monthly update: new tax tables and two fixes for payslips.",
            go_live,
        )
        self.at(29)
        with acting_as(manager, VIA):
            release = releases.create_release(
                manager,
                {
                    "short_description": "Payroll monthly update",
                    "release_version": "12.5",
                    "kind": "minor",
                    "description": "The vendor's update for this month: tax tables and "
                    "payslip fixes.",
                    "manager": manager,
                    "review_days": 14,
                },
                services=[service],
                # The customers of the multi-tenant application that its manager serves.
                customers=list(restrict(app.customers.all(), manager)),
                changes=[change],
            )
            for kind, target, start, end in (
                ("build", "", 28, 24),
                ("test", "", 23, 16),
                ("acceptance", "", 15, 9),
                ("rollout", "Payroll (multi-tenant)", 6, 5),
            ):
                releases.add_stage(
                    release,
                    manager,
                    kind=kind,
                    target=target,
                    starts_on=(self.now - start * DAY).date(),
                    ends_on=(self.now - end * DAY).date(),
                )
        release = self._through_acceptance(
            release,
            manager,
            [
                (
                    "A test payroll run matches last month's but for the new tax tables",
                    lead,
                    "approve",
                ),
                ("Payslips render in the self-service portal", specialist, "approve"),
            ],
            (28, 23, 15),
        )
        self.at(9)
        with acting_as(manager, VIA):
            release = releases.transition(release, manager, "accept")
            deployment = deployments.plan_deployment(
                release, manager, ci=app, change=change, planned_for=go_live
            )
        self.clock.value = go_live
        with acting_as(specialist, VIA):
            actions.transition(change, specialist, "start")
            deployments.complete_deployment(
                release, specialist, deployment.pk, note="Smoke tests passed."
            )
        # The CMDB stamps its live-change record with the real time; the demo's past
        # has it at the go-live.
        LiveChange.objects.filter(ci=app, change_reference=change.number).update(at=go_live)
        self.clock.value = go_live + 2 * HOUR
        with acting_as(manager, VIA):
            release = releases.transition(release, manager, "mark_deployed")
            for stage in release.stages.all():
                self.clock.value = min(
                    dt.datetime.combine(stage.ends_on, dt.time(17), tzinfo=dt.UTC),
                    go_live + 2 * HOUR,
                )
                releases.complete_stage(release, manager, stage.pk)
        with acting_as(specialist, VIA):
            actions.transition(
                change, specialist, "finish", outcome="successful", notes="Went as planned."
            )
        self.clock.value = self.now
        releases.link_review_incidents(release)
        return release

    def _portal(self):
        from accord.changes import releases

        # Northwind is served by the desk, not by the Applications team: its releases
        # are run by the administrator and signed off by the desk.
        manager, desk_lead = self.users["admin"], self.users["manager"]
        specialist, agent = self.users["daniel.novak"], self.users["agent"]
        self.at(12)
        change = self._change(
            specialist,
            "Deploy the customer portal 3.9",
            "Northwind asked for order templates and a faster checkout.",
            self.now + 5 * DAY,
        )
        with acting_as(manager, VIA):
            release = releases.create_release(
                manager,
                {
                    "short_description": "Northwind customer portal",
                    "release_version": "3.9",
                    "kind": "minor",
                    "description": "Order templates; a one-page checkout.",
                    "manager": manager,
                    "review_days": 14,
                },
                services=[self.services[data.PORTAL]],
                customers=[self.northwind],
                changes=[change],
            )
            today = self.now.date()
            releases.add_stage(
                release,
                manager,
                kind="rollout",
                target="Production (order.northwind)",
                starts_on=today + 5 * DAY,
                ends_on=today + 5 * DAY,
            )
        return self._through_acceptance(
            release,
            manager,
            [
                ("Checkout tested with Northwind's three largest accounts", desk_lead, "approve"),
                ("Service desk briefed on the order templates and the new checkout", agent, None),
            ],
            (11, 6, 2),
        )

    def _erp(self):
        from accord.changes import releases

        manager = self.users["admin"]
        self.at(3)
        today = self.now.date()
        with acting_as(manager, VIA):
            release = releases.create_release(
                manager,
                {
                    "short_description": "ERP cumulative update",
                    "release_version": "2018 CU41",
                    "kind": "minor",
                    "description": "Microsoft's cumulative update 41 for Dynamics NAV 2018.",
                    "manager": manager,
                    "review_days": 21,
                },
                services=[self.services[data.ERP]],
                customers=[self.northwind],
            )
            for kind, target, start, end in (
                ("build", "", 7, 10),
                ("test", "", 11, 18),
                ("acceptance", "", 19, 24),
                ("rollout", "Northwind ERP (Dynamics NAV)", 27, 27),
            ):
                releases.add_stage(
                    release,
                    manager,
                    kind=kind,
                    target=target,
                    starts_on=today + start * DAY,
                    ends_on=today + end * DAY,
                )
        return release


def _usernames():
    return ["admin", "manager", "agent", "owner", "fatima.rahman", "daniel.novak"]


def load_releases(now):
    """Write the demo's release policies and releases; ``now`` is the loader's today.
    Returns the releases (deployed, in acceptance, planned)."""
    return _Releases(now).load()
