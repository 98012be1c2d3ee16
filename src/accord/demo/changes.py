"""The demo's change management: a standard change template, the risk questionnaire,
the change advisory board and the emergency board, a blackout window, a maintenance
window, and eight changes at the stages of their lifecycle (draft to closed, failed
with its review, an emergency, a rejection), each taken through ``changes.actions``
and ``changes.approvals`` on the loader's clock so their journals read as real ones.
"""

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from accord.calendars.models import Calendar
from accord.core.context import acting_as

from . import data

VIA = "cli:loaddemo"
HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)
BERLIN = ZoneInfo("Europe/Berlin")

TEMPLATE = {
    "name": "Monthly security updates of a virtualisation host",
    "description": "The vendor's monthly security updates, one host at a time, with its "
    "virtual machines moved to the other hosts first.",
    "implementation_plan": "1. Put the host in maintenance mode (its VMs move away).\n"
    "2. Install the updates and restart.\n"
    "3. Check the host's health, then leave maintenance mode.",
    "backout_plan": "Boot the previous image from the host's alternate boot bank.",
    "test_plan": "Health check green; one VM moved back and reachable.",
}
# (question, [(answer, score)]): the scores add up to the risk class (medium from 5,
# high from 10, the defaults).
RISK_QUESTIONS = [
    (
        "Has the change been tried in a test environment?",
        [("Yes, the same steps", 0), ("Partly", 2), ("No", 5)],
    ),
    (
        "Does it interrupt a live service?",
        [("No", 0), ("Only inside its maintenance window", 2), ("Yes, in business hours", 6)],
    ),
    (
        "Can it be backed out within an hour?",
        [("Yes", 0), ("With some effort", 3), ("No", 6)],
    ),
]
CAB = ("Change advisory board", "manager", ["jonas.lindqvist", "fatima.rahman", "emma.laurent"])
CAB_MEMBERS_EXTRA = ["owner"]
ECAB = ("Emergency change advisory board", "jonas.lindqvist", ["manager", "fatima.rahman"])
MAINTENANCE_CALENDAR = "ERP maintenance window (Sundays 02:00-06:00 CET)"


@dataclass
class ChangeSpec:
    key: str
    short: str
    requester: str
    team: str
    reason: str
    services: tuple = ()
    cis: tuple = ()
    customers: tuple = ()  # customer codes; none: the provider's own change
    kind: str = "normal"
    plans: bool = True
    risk: tuple = ()  # the chosen answer of each question (index)
    emergency_reason: str = ""
    fixes: tuple = ()  # short descriptions of the demo problems it fixes
    notes: tuple = ()  # work notes
    extra: dict = field(default_factory=dict)


PLANS = {
    "vpn-timeout": (
        "1. Export the firewall configuration.\n"
        "2. Set the SSL VPN profile's UDP idle timeout to 1800 s.\n"
        "3. Push the policy and watch the tunnel count for 15 minutes.",
        "Import the exported configuration and push it again.",
        "A test client over UDP stays connected for 30 minutes.",
    ),
    "core-switch": (
        "1. Save the running configuration.\n"
        "2. Load firmware 17.9 on both stack members.\n"
        "3. Reload the stack and check the uplinks and port errors.",
        "Boot the previous image (17.6) from flash and restore the saved configuration.",
        "Uplinks up, no CRC errors over an hour of backup traffic.",
    ),
    "vpn-emergency": (
        "1. Apply the vendor's hotfix to vpn-gw01.\n"
        "2. Restart the VPN service; remote staff reconnect.",
        "Uninstall the hotfix from the maintenance console.",
        "Log in through the VPN portal; the vendor's check script reports the fix.",
    ),
    "erp-patch": (
        "1. Back up the ERP database.\n"
        "2. Apply the vendor's cumulative update to the ERP application and database.\n"
        "3. Run the vendor's smoke test with the finance key user.",
        "Restore the database backup and reinstall the previous build.",
        "Post a test invoice and run the month-end report in the test company.",
    ),
    "backup-controller": (
        "1. Pause the backup jobs.\n"
        "2. Replace the controller of dc1-backup01 and let the array rebuild.\n"
        "3. Resume the jobs and run a test restore.",
        "Put the old controller back (kept on site until the change is closed).",
        "A test restore of one file server volume completes.",
    ),
    "portal-move": (
        "1. Copy the portal to the new hosting provider.\n"
        "2. Switch DNS over the weekend.\n"
        "3. Decommission the old VM.",
        "Switch DNS back.",
        "",
    ),
}

CHANGES = [
    ChangeSpec(
        key="vpn-timeout",
        short="Raise the SSL VPN UDP idle timeout to 30 minutes",
        requester="carlos.mendes",
        team="Network & Infrastructure",
        reason="Remote staff lose their VPN session every ten minutes (the known error's "
        "root cause): the timeout must exceed the client's keep-alive interval.",
        services=(data.VPN,),
        cis=("dc1-fw01",),
        risk=(0, 1, 0),
        fixes=("VPN sessions drop every 10 minutes for remote staff",),
    ),
    ChangeSpec(
        key="core-switch",
        short="Upgrade the core switch stack to firmware 17.9",
        requester="hannah.schulz",
        team="Network & Infrastructure",
        reason="Firmware 17.6 is out of vendor support and the port errors under backup "
        "load are fixed in 17.9 according to the release notes.",
        services=(data.NETWORK,),
        cis=("dc1-core-sw01",),
        risk=(1, 1, 1),
        extra={"assignee": "carlos.mendes"},
    ),
    ChangeSpec(
        key="vpn-emergency",
        short="Apply the vendor's hotfix for the VPN portal vulnerability",
        requester="carlos.mendes",
        team="Network & Infrastructure",
        kind="emergency",
        reason="The vendor's advisory reports a flaw in the VPN portal's login page.",
        emergency_reason="The vendor reports the flaw is being exploited and vpn-gw01 is "
        "reachable from the internet: it cannot wait for the next board meeting.",
        services=(data.VPN,),
        cis=("vpn-gw01",),
        risk=(2, 1, 0),
    ),
    ChangeSpec(
        key="host-updates",
        short="Monthly security updates of esx-02",
        requester="hannah.schulz",
        team="Network & Infrastructure",
        kind="standard",
        reason="This month's security updates.",
        cis=("esx-02",),
        notes=(
            "esx-02 in maintenance mode; its 14 virtual machines moved to esx-01 without "
            "interruption.",
        ),
    ),
    ChangeSpec(
        key="erp-patch",
        short="Apply the ERP vendor's cumulative update",
        requester="hannah.schulz",
        team="Network & Infrastructure",
        reason="The update fixes the VAT rounding on credit notes that Northwind's finance "
        "team reported, and is a prerequisite for next year's tax tables.",
        services=(data.ERP,),
        cis=("Northwind ERP (Dynamics NAV)",),
        customers=("northwind",),
        risk=(0, 1, 0),
    ),
    ChangeSpec(
        key="backup-controller",
        short="Replace the failing controller of the backup array",
        requester="hannah.schulz",
        team="Network & Infrastructure",
        reason="Controller B of dc1-backup01 reports correctable memory errors daily; the "
        "vendor recommends replacing it before it fails.",
        services=(data.BACKUP,),
        cis=("dc1-backup01",),
        risk=(1, 2, 1),
    ),
    ChangeSpec(
        key="portal-move",
        short="Move the customer portal to a new hosting provider",
        requester="daniel.novak",
        team="Applications",
        reason="The new provider's offer is cheaper and includes a web application firewall.",
        services=(data.PORTAL,),
        risk=(2, 2, 2),
    ),
    ChangeSpec(
        key="printer",
        short="Replace the 3rd-floor printer with a leased multifunction device",
        requester="priya.nair",
        team="Workplace Services",
        reason="The printer's fuser is worn and no parts are sold (see the accepted risk); "
        "the fleet renewal brings a leased device forward.",
        services=(data.PRINTING,),
        plans=False,
    ),
]


class ChangeLoader:
    """Writes the demo's change management on the demo loader's clock."""

    def __init__(self, loader):
        self.loader = loader
        self.now = loader.now
        self.users = loader.users
        self.changes = {}

    def at(self, when):
        self.loader.clock.value = min(when, self.now)

    def load(self):
        from accord.changes.models import ChangeTemplate

        admin = self.users["admin"]
        self.at(self.now - 45 * DAY)
        with acting_as(admin, VIA):
            self.template = ChangeTemplate(**TEMPLATE)
            self.template.save()
            self._questions()
            self.cab, self.ecab = self._boards()
            self._windows()
        self._closed_successfully()
        self._rejected()
        self._failed_and_reviewed()
        self._emergency()
        self._scheduled()
        self._awaiting_approval()
        self._implementing()
        self._draft()
        self.at(self.now)
        return self.changes

    # --- configuration ----------------------------------------------------------------
    def _questions(self):
        from accord.changes.models import RiskOption, RiskQuestion

        self.options = []
        for position, (text, answers) in enumerate(RISK_QUESTIONS):
            question = RiskQuestion(text=text, position=position)
            question.save()
            self.options.append(
                [
                    RiskOption.objects.create(question=question, label=label, score=score)
                    for label, score in answers
                ]
            )

    def _boards(self):
        from accord.changes.choices import Quorum
        from accord.changes.models import Board

        boards = []
        for (name, chair, members), emergency, quorum in (
            (CAB, False, Quorum.MAJORITY),
            (ECAB, True, Quorum.CHAIR),
        ):
            board = Board(name=name, chair=self.users[chair], emergency=emergency, quorum=quorum)
            board.save()
            extra = CAB_MEMBERS_EXTRA if not emergency else []
            board.members.set([self.users[u] for u in [*members, *extra]])
            boards.append(board)
        return boards

    def _windows(self):
        from accord.changes.models import BlackoutWindow, MaintenanceWindow

        services = self.loader.services
        start = (
            (self.now + 20 * DAY)
            .astimezone(BERLIN)
            .replace(hour=0, minute=0, second=0, microsecond=0)
        )
        blackout = BlackoutWindow(
            name="Payroll run",
            starts_at=start,
            ends_at=start + 3 * DAY,
            reason="Monthly payroll run for Northwind and Contoso: no change to the payroll "
            "systems.",
        )
        blackout.save()
        blackout.services.set([services[data.PAYROLL]])
        calendar = Calendar(
            name=MAINTENANCE_CALENDAR,
            time_zone="Europe/Berlin",
            weekly_hours={"sun": [["02:00", "06:00"]]},
        )
        calendar.save()
        MaintenanceWindow(service=services[data.ERP], calendar=calendar).save()

    # --- the changes ------------------------------------------------------------------
    def _spec(self, key):
        return next(s for s in CHANGES if s.key == key)

    def _raise(self, key, when, start=None, hours=2):
        """The change as its requester logs it (a draft), its slot from ``start``."""
        from accord.changes import actions
        from accord.core.policy import restrict
        from accord.problems.models import Problem

        spec = self._spec(key)
        user = self.users[spec.requester]
        self.at(when)
        fields = {
            "kind": spec.kind,
            "short_description": spec.short,
            "reason": spec.reason,
            "assignment_team": self.loader.teams[spec.team],
            "assignee": self.users[spec.extra.get("assignee", spec.requester)],
        }
        if spec.plans and key in PLANS:
            implementation, backout, test = PLANS[key]
            fields.update(implementation_plan=implementation, backout_plan=backout, test_plan=test)
        if spec.kind == "standard":
            fields["template"] = self.template
        if spec.emergency_reason:
            fields["emergency_reason"] = spec.emergency_reason
        if start is not None:
            fields.update(planned_start=start, planned_end=start + hours * HOUR)
        problems = list(restrict(Problem.objects.filter(short_description__in=spec.fixes), user))
        with acting_as(user, VIA):
            change = actions.create_change(
                user,
                fields,
                services=[self.loader.services[s] for s in spec.services],
                customers=[self.loader.customers[c] for c in spec.customers],
                cis=[self.loader.cis[c] for c in spec.cis],
                problems=problems,
            )
        self.changes[key] = change
        return change

    def _step(self, change, user, name, when, **kwargs):
        from accord.changes import actions

        self.at(when)
        with acting_as(user, VIA):
            return actions.transition(change, user, name, **kwargs)

    def _assess(self, change, when):
        """Submitted, its risk answered and assessed, and its approvers asked."""
        from accord.changes import actions

        spec = self._spec(self._key(change))
        user = self.users[spec.requester]
        self._step(change, user, "submit", when)
        if spec.kind != "standard":
            self.at(when + HOUR)
            answers = {
                self.options[i][0].question_id: self.options[i][a].pk
                for i, a in enumerate(spec.risk)
            }
            with acting_as(user, VIA):
                actions.assess_risk(change, user, answers)
        self._step(change, user, "assess", when + 2 * HOUR)
        if change.status != "approved":
            self._step(
                change, user, "request_approval", when + 2 * HOUR + 5 * dt.timedelta(minutes=1)
            )

    def _key(self, change):
        return next(k for k, c in self.changes.items() if c.pk == change.pk)

    def _decide(self, change, username, decision, when, comment=""):
        from accord.changes import actions

        user = self.users[username]
        self.at(when)
        with acting_as(user, VIA):
            actions.decide(change, user, decision, comment=comment)

    def _implement(self, change, outcome, notes="", minutes=50):
        user = change.assignee
        self._step(change, user, "start", change.planned_start)
        done = change.planned_start + minutes * dt.timedelta(minutes=1)
        self._step(change, user, "finish", done, outcome=outcome, notes=notes)

    def _closed_successfully(self):
        """A low-risk change approved by the team's manager, done, and closed: it fixes
        the VPN problem, and the firewall's record names it."""
        from accord.cmdb import actions as cmdb_actions
        from accord.cmdb.models import ConfigurationItem

        start = (self.now - 26 * DAY).replace(hour=19, minute=0, second=0, microsecond=0)
        change = self._raise("vpn-timeout", self.now - 30 * DAY, start, hours=1)
        self._assess(change, self.now - 30 * DAY + HOUR)
        self._decide(change, "jonas.lindqvist", "approve", self.now - 29 * DAY, "Agreed.")
        self._step(change, self.users["carlos.mendes"], "schedule", self.now - 29 * DAY + HOUR)
        self._step(change, change.assignee, "start", start)
        firewall = ConfigurationItem.objects.get(pk=self.loader.cis["dc1-fw01"].pk)
        firewall.description = "SSL VPN profile: UDP idle timeout 1800 s."
        self.at(start + 20 * dt.timedelta(minutes=1))
        with acting_as(change.assignee, VIA):
            cmdb_actions.save_ci(firewall, change_reference=change.number)
        self._step(
            change,
            change.assignee,
            "finish",
            start + 40 * dt.timedelta(minutes=1),
            outcome="successful",
        )
        self._step(change, change.assignee, "close", self.now - 25 * DAY)

    def _rejected(self):
        """A high-risk change the board turns down at its meeting, with the minutes."""
        from accord.changes import approvals
        from accord.changes.models import BoardMeeting

        start = (self.now + 30 * DAY).replace(hour=8, minute=0, second=0, microsecond=0)
        change = self._raise("portal-move", self.now - 19 * DAY, start, hours=48)
        self._assess(change, self.now - 19 * DAY + HOUR)
        chair = self.users["manager"]
        meeting_at = (self.now - 16 * DAY).replace(hour=10, minute=0, second=0, microsecond=0)
        self.at(self.now - 18 * DAY)
        with acting_as(chair, VIA):
            meeting = approvals.plan_meeting(
                chair,
                self.cab,
                BoardMeeting(starts_at=meeting_at, location="Room 2.14 and video call"),
            )
            approvals.add_to_agenda(chair, meeting, change)
        why = "No tested back-out plan for the DNS switch, and no test plan at all."
        for minutes, name in enumerate(("manager", "jonas.lindqvist", "fatima.rahman")):
            self._decide(
                change, name, "reject", meeting_at + (20 + minutes) * dt.timedelta(minutes=1), why
            )
        self.at(meeting_at + 2 * HOUR)
        with acting_as(chair, VIA):
            approvals.record_minutes(
                chair,
                meeting,
                f"{change.number} (portal move): rejected. {why} The requester may raise it "
                "again with a rehearsed DNS switch-back and a test plan.",
            )

    def _failed_and_reviewed(self):
        """A medium-risk change approved by the board that failed, was backed out and
        reviewed."""
        start = (self.now - 14 * DAY).replace(hour=21, minute=0, second=0, microsecond=0)
        change = self._raise("core-switch", self.now - 21 * DAY, start, hours=3)
        self._assess(change, self.now - 21 * DAY + HOUR)
        for minutes, name in enumerate(("manager", "jonas.lindqvist", "fatima.rahman")):
            self._decide(
                change,
                name,
                "approve",
                self.now - 19 * DAY + minutes * HOUR,
                "Agreed, in the evening window.",
            )
        self._step(change, self.users["hannah.schulz"], "schedule", self.now - 18 * DAY)
        self._implement(
            change,
            "failed",
            "The stack did not form again after the reload with 17.9: member 2 kept its "
            "old stack priority. Rolled back to 17.6 after 40 minutes; no service was down "
            "longer than the planned window.",
            minutes=95,
        )
        reviewer = self.users["jonas.lindqvist"]
        self._step(change, reviewer, "begin_review", self.now - 13 * DAY)
        self.at(self.now - 12 * DAY)
        from accord.changes import actions

        with acting_as(reviewer, VIA):
            actions.review(
                change,
                reviewer,
                "The upgrade was tested on a single switch, not on a stack. Next time: "
                "rehearse on the spare stack in the lab, and set stack priorities before "
                "the reload. The back-out plan worked as written.",
            )
        self._step(change, reviewer, "close", self.now - 12 * DAY + HOUR)

    def _emergency(self):
        start = (self.now - 9 * DAY).replace(hour=11, minute=0, second=0, microsecond=0)
        change = self._raise("vpn-emergency", start - 3 * HOUR, start, hours=1)
        self._assess(change, start - 3 * HOUR + 10 * dt.timedelta(minutes=1))
        self._decide(
            change,
            "jonas.lindqvist",
            "approve",
            start - 30 * dt.timedelta(minutes=1),
            "Go ahead; notify the service desk.",
        )
        self._implement(change, "successful", minutes=35)
        from accord.changes import actions

        user = change.assignee
        self.at(self.now - 8 * DAY)
        with acting_as(user, VIA):
            actions.review(
                change,
                user,
                "Hotfix applied in 35 minutes; remote staff reconnected by themselves. The "
                "vendor's advisory reached us through a customer, not through our own "
                "subscription: subscribe the team mailbox.",
            )
        self._step(change, user, "close", self.now - 8 * DAY + HOUR)

    def _scheduled(self):
        """Approved by the team's manager and scheduled inside the ERP maintenance
        window next week (03:00-05:00, which exists on every Sunday of the year)."""
        day = (self.now + 3 * DAY).astimezone(BERLIN).date()
        while day.weekday() != 6:
            day += DAY
        start = dt.datetime(day.year, day.month, day.day, 3, tzinfo=BERLIN)
        change = self._raise("erp-patch", self.now - 4 * DAY, start, hours=2)
        self._assess(change, self.now - 4 * DAY + HOUR)
        self._decide(
            change,
            "jonas.lindqvist",
            "approve",
            self.now - 3 * DAY,
            "Finance key user booked for the smoke test.",
        )
        self._step(change, self.users["hannah.schulz"], "schedule", self.now - 3 * DAY + HOUR)

    def _awaiting_approval(self):
        """A high-risk change before the board, on its next meeting's agenda."""
        from accord.changes import approvals
        from accord.changes.models import BoardMeeting

        start = (self.now + 12 * DAY).replace(hour=18, minute=0, second=0, microsecond=0)
        change = self._raise("backup-controller", self.now - 3 * DAY, start, hours=4)
        self._assess(change, self.now - 3 * DAY + HOUR)
        chair = self.users["manager"]
        self.at(self.now - 2 * DAY)
        with acting_as(chair, VIA):
            meeting = approvals.plan_meeting(
                chair,
                self.cab,
                BoardMeeting(
                    starts_at=(self.now + 2 * DAY).replace(
                        hour=10, minute=0, second=0, microsecond=0
                    ),
                    location="Room 2.14 and video call",
                ),
            )
            approvals.add_to_agenda(chair, meeting, change)
        self._decide(change, "fatima.rahman", "approve", self.now - DAY, "Fine by Applications.")

    def _implementing(self):
        """A standard change (pre-approved) under way now, with a work note."""
        from accord.changes import actions

        start = self.now - HOUR
        change = self._raise("host-updates", self.now - 2 * DAY, start, hours=3)
        self._assess(change, self.now - 2 * DAY + HOUR)
        user = change.assignee
        self._step(change, user, "schedule", self.now - DAY)
        self._step(change, user, "start", start)
        self.at(start + 20 * dt.timedelta(minutes=1))
        with acting_as(user, VIA):
            for note in self._spec("host-updates").notes:
                actions.add_work_note(change, user, note)

    def _draft(self):
        self._raise("printer", self.now - DAY)
