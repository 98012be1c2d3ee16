"""Reference data every benchmark needs, made through Accord's own models.

python -m benchkit.setup_data  (DJANGO_SETTINGS_MODULE=accord.settings) prints JSON:
customer and service ids, the users and their API keys. Three customers; the
"Service Desk" team serves two of them, so the bench agent sees 2 of 3 customers.
Those two have an agreed SLA on a business-hours calendar, so a create starts clocks.
"""

import json
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "accord.settings")

import django  # noqa: E402

django.setup()

from accord.calendars.models import Calendar  # noqa: E402
from accord.catalogue.models import Service  # noqa: E402
from accord.core.context import acting_as  # noqa: E402
from accord.core.policy import Role  # noqa: E402
from accord.organizations.models import Customer  # noqa: E402
from accord.slas.models import Agreement  # noqa: E402
from accord.users.models import ApiToken, Team, User  # noqa: E402

CUSTOMERS = [("Acme Corporation", "acme"), ("Globex", "globex"), ("Initech", "initech")]
SERVICES = ["Email", "VPN", "Laptops and desktops", "ERP", "Wi-Fi", "Printing"]
PASSWORD = "bench-password-not-secret"


def main():
    with acting_as(None, "cli"):
        admin = User.objects.create_user(
            "bench-admin", password=PASSWORD, role=Role.ADMINISTRATOR, is_staff=True
        )
        agent = User.objects.create_user("bench-agent", password=PASSWORD, role=Role.AGENT)
        agent2 = User.objects.create_user("bench-agent2", password=PASSWORD, role=Role.AGENT)
        agent3 = User.objects.create_user("bench-agent3", password=PASSWORD, role=Role.AGENT)
        desk = Team.objects.create(name="Service Desk", manager=agent)
        desk.members.set([agent, agent2])
        network = Team.objects.create(name="Network Operations", manager=agent3)
        network.members.set([agent3, agent2])
        customers = []
        for name, code in CUSTOMERS:
            customer = Customer(name=name, code=code)
            customer.save()
            customers.append(customer)
        for customer in customers[:2]:
            customer.support_teams.set([desk])
        customers[2].support_teams.set([network])
        services = []
        for name in SERVICES:
            service = Service(name=name, status="live", support_team=desk)
            service.save()
            service.customers.set(customers)
            services.append(service)
        calendar = Calendar(
            name="Business hours",
            time_zone="Europe/Berlin",
            weekly_hours={
                day: [["08:00", "12:00"], ["13:00", "17:00"]]
                for day in ("mon", "tue", "wed", "thu", "fri")
            },
            holidays={
                "dates": [],
                "recurring": [[1, 1], [5, 1], [10, 3], [12, 24], [12, 25], [12, 26], [12, 31]],
                "ranges": [],
                "names": {},
            },
        )
        calendar.save()
        # Two customers have an agreement (so creates start clocks); the third has none.
        for customer in customers[:2]:
            sla = Agreement(
                name=f"{customer.name} SLA",
                customer=customer,
                calendar=calendar,
                status="agreed",
                valid_from="2020-01-01",
            )
            sla.save()
            for priority, (response, resolution) in enumerate(
                [(15, 4), (30, 8), (60, 24), (240, 40), (480, 80)], start=1
            ):
                sla.targets.create(priority=priority, metric="response", seconds=response * 60)
                sla.targets.create(
                    priority=priority, metric="resolution", seconds=resolution * 3600
                )
        _, admin_key = ApiToken.issue(admin, "bench")
        _, agent_key = ApiToken.issue(agent, "bench")
    print(
        json.dumps(
            {
                "customers": [c.pk for c in customers],
                "agent_customers": [c.pk for c in customers[:2]],
                "services": [s.pk for s in services],
                "teams": {"desk": desk.pk, "network": network.pk},
                "calendar": calendar.pk,
                "sla_customers": [c.pk for c in customers[:2]],
                "plain_customers": [customers[2].pk],
                "team_members": {
                    "desk": [agent.pk, agent2.pk],
                    "network": [agent3.pk, agent2.pk],
                },
                "users": {
                    "admin": admin.pk,
                    "agent": agent.pk,
                    "agent2": agent2.pk,
                    "agent3": agent3.pk,
                },
                "keys": {"admin": admin_key, "agent": agent_key},
            }
        )
    )


if __name__ == "__main__":
    main()
