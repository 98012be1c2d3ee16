"""Property-based API fuzzing: no request the schema describes (or nearly describes)
may make the server fail.

Schemathesis reads the OpenAPI document the app serves at /api/schema/ and, for every
operation, generates valid requests and schema-violating ones. Each is sent through
the WSGI application against the test database as an administrator and as a customer
user; no response may have a 5xx status. Path ids are drawn both at random and from
records that exist, so detail endpoints reach real objects (in and out of scope).
"""

import functools
import os

import pytest
import schemathesis
from django.urls import get_resolver
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

# Per operation and role; raise it locally (ACCORD_FUZZ_EXAMPLES=200) for a deeper hunt.
MAX_EXAMPLES = int(os.environ.get("ACCORD_FUZZ_EXAMPLES", "15"))

HYPOTHESIS_SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
    suppress_health_check=list(HealthCheck),
    print_blob=False,
)


@functools.cache
def _schema_dict():
    """The OpenAPI document as the app generates it (no request, no database)."""
    from drf_spectacular.generators import SchemaGenerator

    get_resolver()  # the URLconf must be loaded for the router's views
    return SchemaGenerator().get_schema(request=None, public=True)


def _operations():
    return [
        (method.upper(), path)
        for path, methods in _schema_dict()["paths"].items()
        for method in methods
        if method in {"get", "post", "put", "patch", "delete"}
    ]


@functools.cache
def _loaded_schema():
    """The schema as served over HTTP by the WSGI app, loaded once per session."""
    from accord.wsgi import application

    return schemathesis.openapi.from_wsgi("/api/schema/", application)


def test_schema_lists_every_router_endpoint():
    from accord.urls import router

    paths = _schema_dict()["paths"]
    for prefix, _viewset, _basename in router.registry:
        assert f"/api/{prefix}/" in paths


@pytest.fixture
def fuzz_world(transactional_db, world, make_incident):
    """Records of both customers (so ids in and out of scope exist) and two tokens."""
    from accord.core import history
    from accord.core.context import acting_as
    from accord.core.models import JournalEntry
    from accord.incidents.models import ServiceRequest
    from accord.users.models import ApiToken

    inc_a = make_incident(customer=world.customer_a, service=world.service)
    make_incident(customer=world.customer_b)
    make_incident(customer=world.customer_a, model=ServiceRequest)
    make_incident(customer=world.customer_b, model=ServiceRequest)
    with acting_as(world.admin, "test"):
        history.journal(inc_a, JournalEntry.Kind.WORK_NOTE, "internal")
        history.journal(inc_a, JournalEntry.Kind.REPLY, "public")
    from accord.cmdb import actions
    from accord.cmdb.models import CIType, ConfigurationItem, RelationshipType
    from accord.cmdb.testing import ensure_starting_types

    ensure_starting_types()
    server = CIType.objects.get(key="server")
    with acting_as(world.admin, "test"):
        cis = [
            actions.save_ci(ConfigurationItem(name=name, ci_type=server), customers=customers)
            for name, customers in (
                ("srv-a", [world.customer_a]),
                ("srv-b", [world.customer_b]),
                ("srv-shared", []),
            )
        ]
        actions.add_relationship(
            world.admin, cis[0], cis[2], RelationshipType.objects.get(key="depends-on")
        )
    from accord.cmdb.models import ImportRun

    ImportRun.objects.create(kind="cis", filename="estate.csv", created_by=world.admin)
    from accord.problems import actions as problem_actions

    with acting_as(world.admin, "test"):
        # Problems of A (raised from its incident), of B, and one naming no customer.
        for incidents in ([inc_a], [make_incident(customer=world.customer_b)], []):
            problem_actions.create_problem(
                world.admin,
                {"short_description": "Relay fault", "impact": 2, "urgency": 2},
                incidents=incidents,
            )
    import datetime

    from django.utils import timezone

    from accord.changes import actions as change_actions

    start = timezone.now() + datetime.timedelta(days=2)
    with acting_as(world.admin, "test"):
        # Changes of A (on its CI, submitted: conflicts are sought), of B, and one
        # naming no customer.
        for customers, ci in (([world.customer_a], cis[0]), ([world.customer_b], None), ([], None)):
            change = change_actions.create_change(
                world.admin,
                {
                    "short_description": "Patch the relay",
                    "reason": "Security fix",
                    "implementation_plan": "upgrade",
                    "backout_plan": "restore",
                    "planned_start": start,
                    "planned_end": start + datetime.timedelta(hours=2),
                },
                customers=customers,
                cis=[ci] if ci else [],
            )
            change_actions.transition(change, world.admin, "submit")
    from accord.changes import releases

    with acting_as(world.admin, "test"):
        # Releases of A (in acceptance, with a criterion) and of B.
        for customers in ([world.customer_a], [world.customer_b]):
            release = releases.create_release(
                world.admin,
                {"short_description": "Relay 2.0", "release_version": "2.0", "kind": "minor"},
                services=[world.service],
                customers=customers,
            )
        for name in ("start_build", "start_test", "start_acceptance"):
            release = releases.transition(release, world.admin, name)
        releases.add_criterion(release, world.admin, text="Relay passes mail", approver=world.admin)
    tokens = {}
    for role in ("admin", "customer_user_a"):
        _token, key = ApiToken.issue(getattr(world, role), "fuzz")
        tokens[role] = key
    return tokens


def _model_for(path):
    from accord.urls import router

    for prefix, viewset, _basename in router.registry:
        if path.startswith(f"/api/{prefix}/"):
            return viewset.queryset.model
    return None


@pytest.mark.parametrize("role", ["admin", "customer_user_a"])
@pytest.mark.parametrize(("method", "path"), _operations(), ids=lambda v: v)
def test_no_server_errors(fuzz_world, role, method, path):
    operation = _loaded_schema()[path][method]
    headers = {"Authorization": f"Token {fuzz_world[role]}"}

    def cases(mode):
        strategy = operation.as_strategy(generation_mode=mode, headers=headers)
        model = _model_for(path)
        if "{id}" in path and model is not None:
            ids = sorted(model._base_manager.values_list("pk", flat=True))
            real = st.sampled_from(ids).flatmap(
                lambda pk: operation.as_strategy(
                    generation_mode=mode, headers=headers, path_parameters={"id": pk}
                )
            )
            strategy = real | strategy
        return strategy

    @HYPOTHESIS_SETTINGS
    @given(case=cases(GenerationMode.POSITIVE) | cases(GenerationMode.NEGATIVE))
    def run(case):
        response = case.call()
        assert response.status_code < 500, (
            f"{case.method} {case.formatted_path} -> {response.status_code}\n"
            f"query={case.query} body={case.body!r}\n{response.text[:2000]}"
        )
        case.validate_response(response, checks=[not_a_server_error])

    run()
