"""Writes the demo data through the same models and domain actions a real user's work
goes through, so every record has its history, journal and search entry.

The records are given a believable past: while the loader runs, ``timezone.now`` is
replaced by a clock the loader moves along each record's timeline (logged, assigned,
started, waiting, resolved, closed), so created/updated times, history rows, journal
lines and resolution times all agree with each other. Everything is drawn from one
seeded random generator, so the data is the same every time (relative to today).
"""

import datetime as dt
import random
import unicodedata
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.contrib.auth.hashers import make_password
from django.utils import timezone
from holidays import country_holidays

from accord.calendars.models import Calendar
from accord.catalogue.choices import ServiceStatus
from accord.catalogue.models import Service, ServiceHours
from accord.core import history, links
from accord.core.context import acting_as
from accord.core.models import JournalEntry
from accord.core.policy import Role
from accord.incidents import actions
from accord.incidents.choices import DEFAULT_MATRIX, ResolutionCode, Status
from accord.incidents.models import (
    Category,
    CustomerCommunication,
    DeskSettings,
    Incident,
    MajorIncidentUpdate,
    ServiceRequest,
)
from accord.organizations.models import Contact, Customer
from accord.slas.models import Agreement, Notification
from accord.slas.tasks import check_clocks
from accord.users.models import Team, User

from . import data

SEED = 2026
VIA = "cli:loaddemo"
INCIDENT_COUNT = 200  # including the two major incidents and the calls linked to them
REQUEST_COUNT = 100
SERVICE_DESK = "Service Desk"
NETWORK_TEAM = "Network & Infrastructure"
WORKPLACE = "Workplace Services"
TEAM_FALLBACK = [SERVICE_DESK, WORKPLACE, "Applications", NETWORK_TEAM]

# Share of each final status: ~25% new/assigned, ~25% in progress or pending,
# 20% resolved, 25% closed, 5% cancelled.
STATUS_MIX = [
    (Status.NEW, 0.10),
    (Status.ASSIGNED, 0.15),
    (Status.IN_PROGRESS, 0.14),
    (Status.PENDING_CUSTOMER, 0.06),
    (Status.PENDING_SUPPLIER, 0.03),
    (Status.PENDING_CHANGE, 0.02),
    (Status.RESOLVED, 0.20),
    (Status.CANCELLED, 0.05),
    (Status.CLOSED, 0.25),  # last: takes the rounding remainder
]
# Days ago a record with this final status was logged (open records are recent).
LOGGED_DAYS_AGO = {
    Status.NEW: (0.0, 2.5),
    Status.ASSIGNED: (0.0, 6),
    Status.IN_PROGRESS: (0.2, 12),
    Status.PENDING_CUSTOMER: (1, 20),
    Status.PENDING_SUPPLIER: (2, 25),
    Status.PENDING_CHANGE: (2, 25),
    Status.RESOLVED: (0.3, 9),
    Status.CLOSED: (7, 88),
    Status.CANCELLED: (1, 88),
}
# How impact and urgency are drawn: {value: weight}.
SEVERITY = {
    "low": ({3: 8, 2: 2}, {3: 4, 2: 5, 1: 1}),
    "mid": ({3: 8, 2: 11, 1: 1}, {3: 2, 2: 5, 1: 3}),
    "high": ({2: 8, 1: 2}, {2: 5, 1: 3, 3: 2}),
}
REQUEST_SEVERITY = {
    "low": ({3: 9, 2: 1}, {3: 5, 2: 4, 1: 1}),
    "mid": ({3: 6, 2: 4}, {3: 3, 2: 5, 1: 2}),
}
OVERRIDE_REASONS = [
    "Affects the managing director ahead of a board meeting.",
    "Blocks the month-end close.",
    "Agreed with the customer in this month's service review.",
]
WORK_START, WORK_END = 7, 17  # working hours, UTC (08:00-18:00 CET)
MINUTE = dt.timedelta(minutes=1)
HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)


class DemoConflict(Exception):
    """The database already holds records the demo would create."""


class Clock:
    """Stands in for ``django.utils.timezone.now`` while the demo's past is written."""

    def __init__(self, value):
        self.value = value

    def __call__(self):
        return self.value


@contextmanager
def simulated_time(clock):
    real = timezone.now
    timezone.now = clock
    try:
        yield clock
    finally:
        timezone.now = real


def _ascii(text):
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


def _day_label(value):
    return f"{value:%A} {value.day} {value:%B}"


@dataclass
class Run:
    """One record's timeline: steps (time, callable) executed in order."""

    model: type
    fills: dict
    steps: list = field(default_factory=list)
    ticket: object = None

    @property
    def start(self):
        return self.steps[0][0]

    def text(self, template):
        return template.format(**self.fills)


class DemoLoader:
    def __init__(self, now=None):
        self.now = now or timezone.now()
        self.rng = random.Random(SEED)
        # Times are drawn from a generator of their own: how many draws placing a
        # record in the past takes depends on today's date, and must not change what
        # the records are about.
        self.time_rng = random.Random(SEED + 1)
        self.clock = Clock(self.now)

    # --- entry point --------------------------------------------------------------
    def load(self):
        self._check_empty()
        with simulated_time(self.clock):
            self.clock.value = self.now - dt.timedelta(days=120)
            self._users()
            self._teams()
            self._customers()
            self._catalogue()
            self._categories()
            self._agreements()
            self._cmdb()
            runs = self._plan_tickets()
            runs += self._plan_major_incidents()
            runs.sort(key=lambda r: r.start)
            # Every step of every record in time order, so the SLA job can run between
            # them as the worker would have (each record's own steps keep their order).
            steps = sorted(
                (at, i, j, run, step)
                for i, run in enumerate(runs)
                for j, (at, step) in enumerate(run.steps)
            )
            checked = self.clock.value
            for at, _i, _j, run, step in steps:
                if at - checked >= dt.timedelta(minutes=15):
                    self.clock.value = checked = at
                    if check_clocks(now=at, send=False):
                        self._refresh_escalated(runs)
                self.clock.value = at
                step(run)
            self.clock.value = self.now
            self._affected_cis()
            self._problems()
            self._changes()
            self._releases()
            check_clocks(now=self.now, send=False)
            # The demo's past warnings are history: they are not mailed out now.
            Notification.objects.filter(sent_at__isnull=True).update(sent_at=self.now)
        return {
            "users": len(self.users),
            "teams": len(self.teams),
            "customers": len(self.customers),
            "services": len(self.services),
            "incidents": Incident.objects.count(),
            "requests": ServiceRequest.objects.count(),
            "configuration items": len(self.cis),
            "problems": len(data.PROBLEMS),
            "changes": len(self.changes),
        }

    def _check_empty(self):
        usernames = [s[0] for s in data.STAFF] + [c[1] for c in data.CONTACTS if c[1]]
        clashes = list(
            User.objects.filter(username__in=usernames).values_list("username", flat=True)
        )
        clashes += list(Team.objects.filter(name__in=data.TEAMS).values_list("name", flat=True))
        clashes += list(
            Customer.objects.filter(code__in=data.CUSTOMERS).values_list("code", flat=True)
        )
        clashes += list(
            Service.objects.filter(name__in=[s.name for s in data.SERVICES]).values_list(
                "name", flat=True
            )
        )
        if clashes:
            raise DemoConflict(
                "The database already has records the demo data would create ("
                + ", ".join(sorted(clashes)[:8])
                + "); load the demo into an empty database."
            )

    # --- people, teams, customers ----------------------------------------------------
    def _users(self):
        hashed = make_password(data.PASSWORD)
        self.users = {}
        self.job_titles = {}

        def add(username, first, last, role, email, time_zone):
            user = User(
                username=username,
                first_name=first,
                last_name=last,
                email=email,
                role=role,
                time_zone=time_zone,
                is_staff=role == Role.ADMINISTRATOR,
                is_superuser=role == Role.ADMINISTRATOR,
                date_joined=self.now - dt.timedelta(days=self.rng.randint(150, 900)),
            )
            user.password = hashed
            user.save()
            self.users[username] = user

        for username, first, last, role, title in data.STAFF:
            email = f"{_ascii(first)}.{_ascii(last)}@{data.STAFF_DOMAIN}"
            add(username, first, last, role, email, "Europe/Berlin")
            self.job_titles[username] = title
        for code, username, first, last, *_ in data.CONTACTS:
            if username:
                facts = data.CUSTOMERS[code]
                email = f"{_ascii(first)}.{_ascii(last)}@{facts['domain']}"
                add(username, first, last, Role.CUSTOMER, email, facts["time_zone"])

    def _teams(self):
        self.teams = {}
        self.members = {}
        for name, (description, email, manager, members) in data.TEAMS.items():
            team = Team.objects.create(
                name=name, description=description, email=email, manager=self.users[manager]
            )
            team.members.set([self.users[m] for m in members])
            self.teams[name] = team
            self.members[name] = [self.users[m] for m in members]

    def _customers(self):
        self.customers = {}
        self.serving = {name: set() for name in data.TEAMS}
        for code, facts in data.CUSTOMERS.items():
            customer = Customer(name=facts["name"], code=code, description=facts["description"])
            customer.save()
            before = history.m2m_snapshot(customer, ["support_teams"])
            customer.support_teams.set([self.teams[t] for t in facts["teams"]])
            history.record_m2m(customer, before)
            self.customers[code] = customer
            for team in facts["teams"]:
                self.serving[team].add(code)
        self.callers = {code: [] for code in data.CUSTOMERS}
        for code, username, first, last, title, phone, weight in data.CONTACTS:
            user = self.users[username] if username else None
            domain = data.CUSTOMERS[code]["domain"]
            Contact(
                customer=self.customers[code],
                name=f"{first} {last}",
                email=f"{_ascii(first)}.{_ascii(last)}@{domain}",
                phone=phone,
                job_title=title,
                user=user,
            ).save()
            if user is not None:
                self.callers[code].append((user, weight))

    # --- catalogue and categories -------------------------------------------------------
    def _catalogue(self):
        hours = {}
        for name, description in data.SERVICE_HOURS.items():
            hours[name] = ServiceHours(name=name, description=description)
            hours[name].save()
        self.services = {}
        self.specs = {}
        for spec in data.SERVICES:
            service = Service(
                name=spec.name,
                description=spec.description,
                status=spec.status,
                owner=self.users[spec.owner],
                service_hours=hours[spec.hours],
                support_team=self.teams[spec.team],
            )
            service.save()
            self.services[spec.name] = service
            self.specs[spec.name] = spec
        for spec in data.SERVICES:
            service = self.services[spec.name]
            before = history.m2m_snapshot(service, ["customers", "depends_on"])
            service.customers.set([self.customers[c] for c in spec.customers])
            service.depends_on.set([self.services[s] for s in spec.depends_on])
            history.record_m2m(service, before)

    def _cmdb(self):
        """The provider's datacentre and each customer's systems, linked."""
        from accord.cmdb import actions as cmdb_actions
        from accord.cmdb.models import CIType, ConfigurationItem, RelationshipType

        admin = self.users["admin"]
        types = {t.key: t for t in CIType.objects.all()}
        self.cis = {}
        for name, key, codes, services, status, attributes, location, team, crit in data.CMDB_ITEMS:
            ci = ConfigurationItem(
                name=name,
                ci_type=types[key],
                status=status,
                attributes=attributes,
                owner=self.teams[team],
                criticality=crit,
                location=self.cis.get(location),
                installed_on=(self.now - dt.timedelta(days=400 + 37 * len(self.cis))).date(),
                warranty_end=(self.now + dt.timedelta(days=-30 + 97 * len(self.cis))).date()
                if key in ("server", "storage", "network-device")
                else None,
            )
            self.cis[name] = cmdb_actions.save_ci(
                ci,
                customers=[self.customers[c] for c in codes],
                services=[self.services[s] for s in services],
            )
        rel_types = {r.key: r for r in RelationshipType.objects.all()}
        for source, key, target in data.CMDB_LINKS:
            cmdb_actions.add_relationship(admin, self.cis[source], self.cis[target], rel_types[key])

    def _affected_cis(self):
        """Incidents name the application (or device) behind their service."""
        from accord.cmdb import actions as cmdb_actions

        by_service = {}
        for ci in self.cis.values():
            for service in ci.services.all():
                by_service.setdefault(service.pk, []).append(ci)
        for incident in Incident.objects.order_by("pk").select_related("customer"):
            candidates = [
                ci
                for ci in by_service.get(incident.service_id, [])
                if ci.ci_type.key in ("application", "network-device", "server")
                and (not ci.customer_ids() or incident.customer_id in ci.customer_ids())
            ]
            if candidates:
                # Named by the agent who worked on it, shortly after it was logged.
                ci = candidates[incident.pk % len(candidates)]
                actor = incident.assignee or self.users["agent"]
                self.clock.value = incident.created + dt.timedelta(minutes=20)
                with acting_as(actor, VIA):
                    cmdb_actions.link_record(ci, incident, actor)
        self.clock.value = self.now

    def _problems(self):
        """Problems raised from the demo's repeating incidents, at each stage of their
        lifecycle, with their analysis, known errors and workarounds in use."""
        from accord.cmdb.actions import link_record as cmdb_link
        from accord.core.policy import restrict
        from accord.problems import actions as problem_actions

        for spec in data.PROBLEMS:
            owner = self.users[spec.owner]
            raised = self.now - dt.timedelta(days=spec.days_ago)

            def at(days, raised=raised):
                return min(raised + dt.timedelta(days=days), self.now - dt.timedelta(hours=1))

            incidents = list(
                restrict(Incident.objects.all(), owner)
                .filter(short_description__icontains=spec.matches)
                .order_by("created")[:10]
            )
            first = [i for i in incidents if i.created <= raised]
            self.clock.value = raised
            with acting_as(owner, VIA):
                problem = problem_actions.create_problem(
                    owner,
                    {
                        "short_description": spec.short,
                        "description": spec.description,
                        "impact": spec.impact,
                        "urgency": spec.urgency,
                        "owner": owner,
                        "assignment_team": self.teams[spec.team],
                        "symptoms": spec.symptoms,
                        "rca_method": spec.method,
                        "is_major": spec.major,
                    },
                    incidents=first,
                )
                for name in spec.cis:
                    cmdb_link(self.cis[name], problem, owner)
            for incident in incidents[len(first) :]:
                self.clock.value = incident.created + dt.timedelta(hours=2)
                with acting_as(owner, VIA):
                    problem_actions.link_incidents(problem, owner, [incident])
            self._analysis(spec, problem, owner, at)
            self._advance(spec, problem, owner, at, incidents)
        self.clock.value = self.now

    def _changes(self):
        """Change management: boards, windows and changes at every stage (see
        ``demo.changes``)."""
        from .changes import ChangeLoader

        self.changes = ChangeLoader(self).load()

    def _releases(self):
        """Release management: policies and releases deployed, in acceptance and
        planned (see ``demo.releases``)."""
        from .releases import load_releases

        self.releases = load_releases(self.now)

    def _analysis(self, spec, problem, owner, at):
        from accord.problems import actions as problem_actions

        for days, text in spec.timeline:
            self.clock.value = at(max(days, 0))
            with acting_as(owner, VIA):
                problem_actions.add_rca_row(
                    problem, owner, "timeline", {"at": at(days), "description": text}
                )
        self.clock.value = at(2)
        with acting_as(owner, VIA):
            for question, answer in spec.whys:
                problem_actions.add_rca_row(
                    problem, owner, "step", {"question": question, "answer": answer}
                )
            for kind, text in spec.factors:
                problem_actions.add_rca_row(
                    problem, owner, "factor", {"kind": kind, "description": text}
                )

    def _advance(self, spec, problem, owner, at, incidents):
        """The problem's steps up to where the spec says it ends."""
        from accord.problems import actions as problem_actions

        order = ["investigate", "root_cause", "known_error", "resolve", "close"]
        if spec.ends == "accept_risk":
            order = ["investigate", "root_cause", "accept_risk"]
        wanted = order[: order.index(spec.ends) + 1]
        days = {"investigate": 1, "root_cause": 5, "known_error": 7, "resolve": 20}
        days.update({"close": 27, "accept_risk": 10})
        for name in wanted:
            if name == "known_error" and not spec.workaround:
                continue
            self.clock.value = at(days[name])
            fields = {}
            actor = owner
            if name == "root_cause":
                fields = {"root_cause": spec.root_cause}
            elif name == "known_error":
                fields = {"workaround": spec.workaround}
            elif name == "resolve":
                fields = {"fix_change": spec.fix_change, "fix_description": spec.fix}
            elif name == "accept_risk":
                actor = self.users[spec.risk[0]]
                fields = {"risk_approver": actor, "risk_reason": spec.risk[1]}
            with acting_as(actor, VIA):
                if name == "close":
                    problem_actions.confirm_fix(problem, actor)
                problem_actions.transition(problem, actor, name, **fields)
            if name == "known_error" and spec.applied:
                known = problem.known_errors.get()
                for incident in incidents[-spec.applied :]:
                    self.clock.value = max(incident.created, at(days[name])) + dt.timedelta(
                        minutes=30
                    )
                    with acting_as(owner, VIA):
                        problem_actions.apply_workaround(known, incident, owner)
        if spec.review:
            self.clock.value = at(days["resolve"] + 2)
            with acting_as(owner, VIA):
                problem_actions.save_review(
                    problem,
                    owner,
                    {k: v for k, v in spec.review.items() if k != "complete"},
                    complete=spec.review["complete"],
                )
                for text, who, due, done in spec.actions:
                    action = problem_actions.add_review_action(
                        problem,
                        owner,
                        description=text,
                        owner=self.users[who],
                        due=(problem.created + dt.timedelta(days=due)).date(),
                    )
                    if done:
                        problem_actions.complete_review_action(action, owner, note=done)

    def _refresh_escalated(self, runs):
        """An SLA escalation may have changed records: steps go on with fresh copies."""
        for model in (Incident, ServiceRequest):
            held = {r.ticket.pk: r for r in runs if isinstance(r.ticket, model)}
            versions = model.objects.filter(pk__in=held).values_list("pk", "version")
            for pk, version in versions:
                if held[pk].ticket.version != version:
                    held[pk].ticket = model.objects.get(pk=pk)

    def _agreements(self):
        """The service hours as calendars, and the agreements that count in them."""
        calendars = {}
        years = range(self.now.year - 1, self.now.year + 2)
        for name, (zone, hours, public) in data.CALENDARS.items():
            holidays = {"dates": [], "recurring": [], "ranges": [], "names": {}}
            if public:
                for day, label in sorted(
                    country_holidays(public[0], subdiv=public[1], years=years).items()
                ):
                    holidays["dates"].append(day.isoformat())
                    holidays["names"][day.isoformat()] = str(label)
            calendars[name] = Calendar(
                name=name, time_zone=zone, weekly_hours=hours, holidays=holidays
            )
            calendars[name].save()
        made = {}
        start = self.clock.value.date()
        for spec in data.AGREEMENTS:
            name, kind, code, cal, services, targets, supports, team, supplier, rules = spec
            agreement = Agreement(
                name=name,
                kind=kind,
                customer=self.customers[code] if code else None,
                calendar=calendars[cal],
                team=self.teams[team] if team else None,
                supplier=supplier,
                status="agreed",
                valid_from=start,
                review_date=start + dt.timedelta(days=365),
            )
            agreement.save()
            agreement.services.set([self.services[s] for s in services])
            agreement.supports.set([made[s] for s in supports])
            for priority, (response, resolution) in targets.items():
                agreement.targets.create(
                    priority=priority, metric="response", seconds=response * 60
                )
                agreement.targets.create(
                    priority=priority, metric="resolution", seconds=resolution * 3600
                )
            for at, metric, action, rule_team in rules:
                agreement.escalations.create(
                    at_percent=at,
                    metric=metric,
                    action=action,
                    team=self.teams[rule_team] if rule_team else None,
                )
            made[name] = agreement

    def _categories(self):
        self.categories = {}
        for parent, name, applies_to in data.CATEGORIES:
            category = Category(
                name=name,
                parent=self.categories[parent] if parent else None,
                applies_to=applies_to,
            )
            category.save()
            self.categories[category.path] = category

    # --- choosing people ---------------------------------------------------------------
    def _pick(self, weighted):
        people, weights = zip(*weighted, strict=True)
        return self.rng.choices(people, weights=weights)[0]

    def _worker_weight(self, user):
        if user.role == Role.OWNER:
            return 0
        if user.username == "agent":
            return 2
        return 0.4 if user.role == Role.MANAGER else 1

    def _member(self, team_name):
        """Someone in the team to work on a record (owners rarely do, `agent` often)."""
        return self._pick([(u, self._worker_weight(u)) for u in self.members[team_name]])

    def _team_for(self, spec, code):
        order = [self.specs[spec.service].team]
        if not spec.internal and self.rng.random() < 0.3:
            order.insert(0, SERVICE_DESK)  # fixed at first line
        for name in order + TEAM_FALLBACK:
            if code in self.serving[name]:
                return name
        raise AssertionError(f"no team serves {code}")

    def _desk_person(self, code, team_name):
        """Who takes the call: the Service Desk if it serves the customer."""
        if code in self.serving[SERVICE_DESK]:
            return self._member(SERVICE_DESK)
        return self._member(team_name)

    def _rating(self, severity, is_request):
        impacts, urgencies = (REQUEST_SEVERITY if is_request else SEVERITY)[severity]
        impact = self.rng.choices(list(impacts), weights=list(impacts.values()))[0]
        urgency = self.rng.choices(list(urgencies), weights=list(urgencies.values()))[0]
        return impact, urgency

    def _fills(self, code):
        rng = self.rng
        fills = {key: rng.choice(values) for key, values in data.FILLS.items()}
        fills["site"] = rng.choice(data.CUSTOMERS[code]["sites"])
        fills["case"] = str(rng.randint(100000, 999999))
        fills["count"] = str(rng.randint(3, 40))
        fills["date_offset"] = rng.randint(2, 14)
        return fills

    def _logged_at(self, low, high, anytime=False):
        """A time between ``low`` and ``high`` days ago: in working hours on a weekday,
        or at any hour of any day for round-the-clock services."""
        rng = self.time_rng
        for _ in range(20):
            day = (self.now - dt.timedelta(days=rng.uniform(low, high))).date()
            if anytime or day.weekday() < 5:
                break
        if anytime:
            minutes = rng.randint(0, 24 * 60 - 1)
        else:
            minutes = rng.randint(WORK_START * 60, WORK_END * 60 - 30)
        at = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC) + minutes * MINUTE
        if at > self.now - 5 * MINUTE:
            at = self.now - rng.uniform(5, 180) * MINUTE
        return at

    def _working(self, at):
        """``at``, or the next working morning if it falls outside working hours."""
        if at.weekday() < 5 and WORK_START <= at.hour < WORK_END:
            return at
        day = at.date() if at.hour < WORK_START else at.date() + DAY
        while day.weekday() >= 5:
            day += DAY
        morning = dt.datetime.combine(day, dt.time(WORK_START), tzinfo=dt.UTC)
        return morning + self.time_rng.uniform(10, 120) * MINUTE

    # --- planning ordinary records -------------------------------------------------------
    def _plan_tickets(self):
        self.auto_close_days = DeskSettings.get().auto_close_days
        runs = []
        for model, count in (
            (Incident, INCIDENT_COUNT - 6),  # 2 majors + 4 calls linked to them
            (ServiceRequest, REQUEST_COUNT),
        ):
            statuses = []
            for status, share in STATUS_MIX[:-1]:
                statuses += [status] * round(count * share)
            statuses += [Status.CLOSED] * (count - len(statuses))
            self.rng.shuffle(statuses)
            runs += [self._plan_ticket(model, status) for status in statuses]
        return runs

    def _plan_ticket(self, model, status):
        rng = self.rng
        is_request = model is ServiceRequest
        codes = list(data.CUSTOMERS)
        code = rng.choices(codes, weights=[data.CUSTOMERS[c]["weight"] for c in codes])[0]
        pool = data.REQUESTS if is_request else data.INCIDENTS
        spec = rng.choice(
            [
                t
                for t in pool
                if code in self.specs[t.service].customers
                and self.specs[t.service].status == ServiceStatus.LIVE
            ]
        )
        team = self._team_for(spec, code)
        worker = self._member(team)
        desk = self._member(team) if spec.internal else self._desk_person(code, team)
        caller = desk if spec.internal else self._pick(self.callers[code])
        customer_caller = caller.role == Role.CUSTOMER
        portal = customer_caller and rng.random() < 0.4
        impact, urgency = self._rating(spec.severity, is_request)
        run = Run(model=model, fills=self._fills(code))
        steps = []  # (minutes after the previous step, callable)

        def gap(low, high):
            return rng.uniform(low, high)

        def add(minutes, fn):
            steps.append((minutes, fn))

        # Logged: by the caller on the portal, or by the desk on the phone or from e-mail.
        assign_at_log = not portal and status != Status.NEW and rng.random() < 0.5
        with_assignee = status != Status.ASSIGNED or rng.random() < 0.6
        fields = {
            "customer": self.customers[code],
            "caller": caller,
            "service": self.services[spec.service],
            "short_description": spec.short,
            "description": spec.description,
            "impact": impact,
            "urgency": urgency,
        }
        if not portal:
            fields["category"] = self.categories[spec.category]
        if assign_at_log:
            fields["assignment_team"] = self.teams[team]
            if with_assignee:
                fields["assignee"] = worker
        override = None
        if not portal and rng.random() < 0.04:
            matrix = DEFAULT_MATRIX[(impact, urgency)]
            if matrix >= 3:  # raised one step, never to P1
                override = (matrix - 1, rng.choice(OVERRIDE_REASONS))
        add(0, self._log(caller if portal else desk, fields, override))

        if status == Status.NEW:
            if customer_caller and rng.random() < 0.25:
                add(gap(60, 1200), self._comment(caller, "reply", rng.choice(data.CHASERS)))
        elif status == Status.CANCELLED:
            if not assign_at_log and rng.random() < 0.5:
                category = spec.category if portal else None
                add(gap(5, 90), self._triage(desk, team, worker, category))
            notes = data.CANCEL_REQUEST if is_request else data.CANCEL_INCIDENT
            add(gap(20, 2000), self._transition(desk, "cancel", note=rng.choice(notes)))
        else:
            if not assign_at_log:
                change = None
                if rng.random() < 0.2:
                    change = max(1, min(3, urgency + rng.choice((-1, 1))))
                assignee = worker if with_assignee else None
                category = spec.category if portal else None
                add(gap(5, 90), self._triage(desk, team, assignee, category, change))
            if status == Status.ASSIGNED:
                if rng.random() < 0.4:
                    notes = data.REQUEST_WORK_NOTES if is_request else data.WORK_NOTES
                    add(gap(10, 300), self._comment(desk, "work_note", rng.choice(notes)))
                if customer_caller and rng.random() < 0.2:
                    add(gap(120, 1440), self._comment(caller, "reply", rng.choice(data.CHASERS)))
            else:
                self._plan_work(add, gap, status, spec, worker, caller, is_request)
        anytime = spec.internal or (
            self.specs[spec.service].hours == data.HOURS_24X7 and rng.random() < 0.15
        )
        return self._place(run, steps, status, anytime)

    def _plan_work(self, add, gap, status, spec, worker, caller, is_request):
        """From the start of work to the final status."""
        rng = self.rng
        customer_caller = caller.role == Role.CUSTOMER
        work_notes = data.REQUEST_WORK_NOTES if is_request else data.WORK_NOTES
        add(gap(10, 240), self._transition(worker, "start"))
        if customer_caller and rng.random() < 0.6:
            add(gap(1, 20), self._comment(worker, "reply", rng.choice(data.ACKNOWLEDGEMENTS)))
        if rng.random() < 0.7:
            note = spec.note if spec.note and rng.random() < 0.7 else rng.choice(work_notes)
            add(gap(10, 180), self._comment(worker, "work_note", note))

        # Waiting: as the final status, or on the way to a resolution.
        waits = []
        if status in (Status.PENDING_CUSTOMER, Status.PENDING_SUPPLIER, Status.PENDING_CHANGE):
            waits.append((status, False))
        elif status in (Status.RESOLVED, Status.CLOSED):
            r = rng.random()
            if r < 0.25 and customer_caller:
                waits.append((Status.PENDING_CUSTOMER, True))
            elif 0.25 <= r < 0.35 and not is_request:
                waits.append((Status.PENDING_SUPPLIER, True))
            elif 0.35 <= r < 0.40:
                waits.append((Status.PENDING_CHANGE, True))
        for wait, resumed in waits:
            if wait == Status.PENDING_CUSTOMER:
                question, answer = rng.choice(
                    data.REQUEST_QUESTIONS if is_request else data.QUESTIONS
                )
                add(gap(5, 60), self._comment(worker, "reply", question))
                add(gap(1, 5), self._transition(worker, "wait_customer"))
                if resumed:  # the caller's answer puts the record back in progress
                    add(gap(60, 2880), self._comment(caller, "reply", answer))
            elif wait == Status.PENDING_SUPPLIER:
                note = rng.choice(data.SUPPLIER_NOTES)
                add(gap(30, 600), self._comment(worker, "work_note", note))
                add(gap(1, 5), self._transition(worker, "wait_supplier"))
                if resumed:
                    add(gap(600, 5760), self._comment(worker, "work_note", data.SUPPLIER_DONE))
                    add(gap(1, 10), self._transition(worker, "resume"))
            else:
                note = rng.choice(data.CHANGE_NOTES)
                add(gap(30, 600), self._comment(worker, "work_note", note))
                add(gap(1, 5), self._transition(worker, "wait_change"))
                if resumed:
                    add(gap(600, 4320), self._comment(worker, "work_note", data.CHANGE_DONE))
                    add(gap(1, 5), self._transition(worker, "resume"))
        if status == Status.IN_PROGRESS and rng.random() < 0.4:
            add(gap(30, 600), self._comment(worker, "work_note", rng.choice(work_notes)))
        if status not in (Status.RESOLVED, Status.CLOSED):
            return

        code, notes = self._resolution(spec, is_request)
        add(gap(30, 2880), self._transition(worker, "resolve", code=code, notes=notes))
        if status == Status.CLOSED and customer_caller and rng.random() < 0.12:
            note = rng.choice(data.REOPEN_NOTES)
            add(gap(120, 2880), self._transition(caller, "reopen", note=note))
            add(gap(10, 240), self._comment(worker, "work_note", rng.choice(work_notes)))
            code = ResolutionCode.FULFILLED if is_request else ResolutionCode.SOLVED
            add(gap(60, 1440), self._transition(worker, "resolve", code=code, notes=spec.fix))
        if status == Status.RESOLVED:
            if customer_caller and rng.random() < 0.3:
                add(gap(5, 300), self._comment(caller, "reply", rng.choice(data.THANKS)))
        elif spec.internal:
            add(gap(60, 2880), self._transition(worker, "close"))
        elif customer_caller and rng.random() < 0.55:
            if rng.random() < 0.5:
                add(gap(20, 1440), self._comment(caller, "reply", rng.choice(data.THANKS)))
            add(gap(5, 2880), self._transition(caller, "close"))
        else:
            add(self.auto_close_days * 1440 + gap(0, 15), self._auto_close())

    def _resolution(self, spec, is_request):
        r = self.rng.random()
        if is_request:
            if r < 0.1:
                return ResolutionCode.REJECTED, self.rng.choice(data.REJECTED)
            return ResolutionCode.FULFILLED, spec.fix
        if spec.internal:
            return ResolutionCode.SOLVED, spec.fix
        if r < 0.08:
            return ResolutionCode.USER_ERROR, data.USER_ERROR
        if r < 0.14:
            return ResolutionCode.NOT_REPRODUCIBLE, data.NOT_REPRODUCIBLE
        if r < 0.18:
            return ResolutionCode.DUPLICATE, data.DUPLICATE
        if r < 0.35 and spec.workaround:
            return ResolutionCode.WORKAROUND, spec.workaround
        return ResolutionCode.SOLVED, spec.fix

    def _place(self, run, steps, status, anytime):
        """Put the timeline in the past, each step in working hours (the auto-close job
        runs at any hour). When it was logged depends on where it ended up: nothing may
        happen after now, and a record still resolved must have been resolved recently,
        or the auto-close job would already have closed it. Start times are drawn until
        the timeline fits."""
        rng = self.time_rng
        recent = self.now - (self.auto_close_days - 0.6) * DAY
        resolves = [i for i, (_, fn) in enumerate(steps) if getattr(fn, "resolves", False)]
        low, high = LOGGED_DAYS_AGO[status]
        times = None
        for attempt in range(40):
            if attempt == 20:  # e.g. early on a Monday: look further back
                high = high * 2 + 3
            candidate = self._timeline(self._logged_at(low, high, anytime), steps)
            if status == Status.RESOLVED:
                fits = recent <= candidate[resolves[-1]] <= self.now - 30 * MINUTE
            else:
                fits = candidate[-1] <= self.now - 2 * MINUTE
            if fits:
                times = candidate
                break
        if times is None:  # squeeze the same steps in between the start and now
            start = self.now - rng.uniform(60, 600) * MINUTE
            total = sum(minutes for minutes, _ in steps) or 1
            scale = (self.now - MINUTE - start) / (total * MINUTE)
            times, at = [], start
            for minutes, _ in steps:
                at += minutes * scale * MINUTE
                times.append(at)
        run.steps = [(at, fn) for at, (_, fn) in zip(times, steps, strict=True) if at < self.now]
        return run

    def _timeline(self, start, steps):
        times, at = [], start
        for minutes, fn in steps:
            at += minutes * MINUTE
            if times and not getattr(fn, "anytime", False):
                at = self._working(at)
            times.append(at)
        return times

    # --- steps ------------------------------------------------------------------------
    def _log(self, actor, fields, override=None):
        def step(run):
            now = self.clock.value
            run.fills["date"] = _day_label(now + run.fills["date_offset"] * DAY)
            run.fills["weekday"] = f"{now + 2 * DAY:%A}"
            values = dict(fields)
            values["short_description"] = run.text(values["short_description"])
            values["description"] = run.text(values["description"])
            extra = {}
            if override:
                extra = {"priority": override[0], "priority_reason": override[1]}
            with acting_as(actor, VIA):
                run.ticket = actions.log_ticket(run.model, actor, values, **extra)

        return step

    def _triage(self, actor, team, assignee, category=None, urgency=None):
        def step(run):
            changes = {"assignment_team": self.teams[team], "assignee": assignee}
            if category:
                changes["category"] = self.categories[category]
            if urgency is not None:
                changes["urgency"] = urgency
            with acting_as(actor, VIA):
                actions.update_ticket(run.ticket, actor, changes)

        return step

    def _comment(self, actor, kind, body):
        def step(run):
            with acting_as(actor, VIA):
                actions.add_comment(run.ticket, actor, JournalEntry.Kind(kind), run.text(body))

        return step

    def _transition(self, actor, name, *, note="", code="", notes=""):
        def step(run):
            with acting_as(actor, VIA):
                actions.transition(
                    run.ticket,
                    actor,
                    name,
                    note=run.text(note),
                    resolution_code=code,
                    resolution_notes=run.text(notes),
                )

        step.resolves = name == "resolve"
        return step

    def _auto_close(self):
        """What the auto-close job does to a resolved record nobody confirmed."""

        def step(run):
            ticket = run.ticket
            with acting_as(None, "job:auto-close"):
                ticket.close()
                ticket.save()
                days = (self.clock.value - ticket.resolved_at).days
                history.event(
                    ticket,
                    f"Closed automatically: resolved {days} days ago without confirmation.",
                )

        step.anytime = True
        return step

    def _link(self, actor, target):
        def step(run):
            with acting_as(actor, VIA):
                links.link(run.ticket, target.ticket, actor)
            run.fills["major"] = target.ticket.number

        return step

    def _declare(self, actor, reason):
        def step(run):
            with acting_as(actor, VIA):
                actions.declare_major(run.ticket, actor, reason=reason, manager=actor)

        return step

    def _major_update(self, actor, body):
        def step(run):
            with acting_as(actor, VIA):
                update = actions.add_major_update(run.ticket, actor, run.text(body))
            # The timeline's time defaults to the real clock; give it the record's.
            MajorIncidentUpdate.objects.filter(pk=update.pk).update(at=self.clock.value)

        return step

    def _communicate(self, actor, channel, audience, subject, body):
        def step(run):
            with acting_as(actor, VIA):
                comm = actions.log_communication(
                    run.ticket,
                    actor,
                    channel=channel,
                    audience=audience,
                    subject=subject,
                    body=run.text(body),
                )
            CustomerCommunication.objects.filter(pk=comm.pk).update(sent_at=self.clock.value)

        return step

    def _review(self, actor, review):
        def step(run):
            with acting_as(actor, VIA):
                actions.save_review(run.ticket, actor, dict(review), complete=True)

        return step

    # --- the two major incidents ---------------------------------------------------------
    def _business_day(self, days_ago):
        day = (self.now - dt.timedelta(days=days_ago)).date()
        while day.weekday() >= 5:
            day -= dt.timedelta(days=1)
        return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)

    def _major_run(self, code, start, timeline):
        """A run from (minutes after start, step) pairs."""
        run = Run(model=Incident, fills=self._fills(code))
        run.steps = [(start + minutes * MINUTE, step) for minutes, step in timeline]
        return run

    def _plan_major_incidents(self):
        u = self.users
        return self._plan_email_outage(u) + self._plan_vpn_outage(u)

    def _plan_email_outage(self, u):
        """Closed: a morning without e-mail at Northwind, 5-6 weeks ago, reviewed."""
        mi = data.EMAIL_OUTAGE
        agent, manager, engineer = u["agent"], u["manager"], u["lukas.wagner"]
        start = self._business_day(38) + dt.timedelta(hours=8, minutes=20)
        review_days = 2  # the review meeting, two working days later
        while (start + review_days * DAY).weekday() >= 5:
            review_days += 1
        review_at = review_days * 1440
        fields = {
            "customer": self.customers["northwind"],
            "caller": u["customer-a"],
            "service": self.services[data.EMAIL],
            "category": self.categories["Software / Email"],
            "short_description": mi["short"],
            "description": mi["description"],
            "impact": 1,
            "urgency": 1,
            "assignment_team": self.teams[WORKPLACE],
            "assignee": engineer,
        }
        comms = mi["communications"]
        updates = mi["updates"]
        major = self._major_run(
            "northwind",
            start,
            [
                (0, self._log(agent, fields)),
                (4, self._transition(engineer, "start")),
                (6, self._comment(engineer, "work_note", mi["notes"][0])),
                (10, self._declare(manager, mi["reason"])),
                (12, self._major_update(manager, updates[0])),
                (20, self._communicate(manager, *comms[0])),
                (25, self._comment(engineer, "reply", mi["reply"])),
                (45, self._comment(engineer, "work_note", mi["notes"][1])),
                (50, self._major_update(manager, updates[1])),
                (85, self._major_update(manager, updates[2])),
                (90, self._communicate(manager, *comms[1])),
                (130, self._major_update(manager, updates[3])),
                (
                    195,
                    self._transition(
                        engineer, "resolve", code=ResolutionCode.SOLVED, notes=mi["resolution"]
                    ),
                ),
                (200, self._communicate(manager, *comms[2])),
                (review_at + 340, self._review(manager, mi["review"])),
                (review_at + 350, self._transition(manager, "close")),
            ],
        )
        runs = [major]
        for i, (username, minutes, short, description) in enumerate(mi["calls"]):
            caller = u[username]
            fields = {
                "customer": self.customers["northwind"],
                "service": self.services[data.EMAIL],
                "short_description": short,
                "description": description,
                "impact": 2,
                "urgency": 1,
            }
            timeline = [
                (minutes, self._log(caller, fields)),
                (minutes + 5, self._triage(agent, SERVICE_DESK, agent, "Software / Email")),
                (minutes + 7, self._link(manager, major)),
                (minutes + 8, self._comment(agent, "reply", mi["call_reply"])),
                (
                    210 + i,
                    self._transition(
                        agent,
                        "resolve",
                        code=ResolutionCode.DUPLICATE,
                        notes=mi["call_resolution"],
                    ),
                ),
            ]
            if i == 0:
                timeline += [
                    (260, self._comment(caller, "reply", mi["call_thanks"])),
                    (262, self._transition(caller, "close")),
                ]
            else:
                timeline.append((210 + i + self.auto_close_days * 1440 + 7, self._auto_close()))
            runs.append(self._major_run("northwind", start, timeline))
        return runs

    def _plan_vpn_outage(self, u):
        """Still open: remote access down at Contoso for the last few hours."""
        mi = data.VPN_OUTAGE
        agent, manager, engineer = u["agent"], u["manager"], u["carlos.mendes"]
        start = self.now - 190 * MINUTE
        fields = {
            "customer": self.customers["contoso"],
            "caller": u["customer-b"],
            "service": self.services[data.VPN],
            "category": self.categories["Network / VPN"],
            "short_description": mi["short"],
            "description": mi["description"],
            "impact": 1,
            "urgency": 1,
            "assignment_team": self.teams[NETWORK_TEAM],
            "assignee": engineer,
        }
        comms = mi["communications"]
        updates = mi["updates"]
        major = self._major_run(
            "contoso",
            start,
            [
                (0, self._log(agent, fields)),
                (6, self._transition(engineer, "start")),
                (12, self._declare(manager, mi["reason"])),
                (15, self._major_update(manager, updates[0])),
                (25, self._communicate(manager, *comms[0])),
                (40, self._comment(engineer, "work_note", mi["notes"][0])),
                (70, self._major_update(manager, updates[1])),
                (75, self._comment(engineer, "reply", mi["reply"])),
                (80, self._comment(engineer, "work_note", mi["notes"][1])),
            ],
        )
        username, minutes, short, description = mi["calls"][0]
        fields = {
            "customer": self.customers["contoso"],
            "service": self.services[data.VPN],
            "short_description": short,
            "description": description,
            "impact": 2,
            "urgency": 1,
        }
        call = self._major_run(
            "contoso",
            start,
            [
                (minutes, self._log(u[username], fields)),
                (minutes + 5, self._triage(agent, SERVICE_DESK, agent, "Network / VPN")),
                (minutes + 7, self._link(manager, major)),
                (minutes + 8, self._comment(agent, "reply", mi["call_reply"])),
            ],
        )
        return [major, call]
