"""CSV export of CIs and relationships in the import's own columns, so that
importing an export changes nothing. Only what the user may see: the CIs (and their
customers, services and location) their scope allows, filtered like the CI list.
Streamed a few thousand rows at a time, with cells that start like a spreadsheet
formula neutralised.
"""

from django.utils.translation import gettext as _

from accord.catalogue.models import Service
from accord.core.exports import stream_csv
from accord.core.policy import restrict, scope_for
from accord.organizations.models import Customer
from accord.users.models import Team

from .choices import Criticality
from .filters import CIFilterSet
from .imports_cis import ATTR_PREFIX, CI_COLUMNS
from .imports_relationships import REL_COLUMNS
from .models import AttributeDefinition, CIType, ConfigurationItem, Relationship

BATCH = 2000
CUSTOMERS = ConfigurationItem.customers.through
SERVICES = ConfigurationItem.services.through
CRITICALITY_WORDS = {c.value: c.name.lower() for c in Criticality}
RELATIONSHIP_KEYS = {"name": "name", "external_key": "external_key", "serial": "serial"}


class BadFilter(Exception):
    def __init__(self, errors):
        super().__init__(errors)
        self.errors = errors


def filtered_cis(request):
    """The CIs the user may see, narrowed by the CI list's filters in the query
    string; BadFilter when they don't validate."""
    qs = restrict(ConfigurationItem.objects.all(), request.user)
    filterset = CIFilterSet(request.GET, queryset=qs, request=request)
    if not filterset.is_valid():
        raise BadFilter({k: [str(m) for m in v] for k, v in filterset.errors.items()})
    return filterset.qs, filterset.form.cleaned_data.get("ci_type")


def attribute_keys(types=None):
    """The attribute columns: every key of the given types (or of all), in type and
    attribute order."""
    definitions = AttributeDefinition.objects.order_by("ci_type__name", "order", "pk")
    if types:
        definitions = definitions.filter(ci_type__in=types)
    return list(dict.fromkeys(definitions.values_list("key", flat=True)))


def _text(value):
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


def ci_rows(user, qs, keys):
    """Rows in CI_COLUMNS order plus one per attribute key; location CIs first, so a
    file that makes them can be imported into an empty CMDB."""
    scope = scope_for(user)
    served = None if scope.all_customers else scope.customer_ids
    codes = dict(Customer.objects.values_list("pk", "code"))
    services = dict(restrict(Service.objects.all(), user).values_list("pk", "name"))
    teams = dict(Team.objects.values_list("pk", "name"))
    types = dict(CIType.objects.values_list("pk", "key"))
    fields = (
        "pk",
        "name",
        "ci_type_id",
        "status",
        "criticality",
        "owner_id",
        "location_id",
        "serial",
        "asset_tag",
        "external_key",
        "installed_on",
        "warranty_end",
        "retire_by",
        "description",
        "attributes",
    )
    for part in (qs.filter(ci_type__is_location=True), qs.exclude(ci_type__is_location=True)):
        last = 0
        while True:
            batch = list(part.filter(pk__gt=last).order_by("pk").values_list(*fields)[:BATCH])
            if not batch:
                break
            last = batch[-1][0]
            ids = [row[0] for row in batch]
            their_customers = _grouped(CUSTOMERS, "customer_id", ids)
            their_services = _grouped(SERVICES, "service_id", ids)
            location_ids = {row[6] for row in batch if row[6]}
            locations = dict(
                restrict(
                    ConfigurationItem.objects.filter(pk__any=sorted(location_ids)), user
                ).values_list("pk", "name")
            )
            for row in batch:
                (
                    pk,
                    name,
                    type_id,
                    status,
                    criticality,
                    owner_id,
                    location_id,
                    serial,
                    asset_tag,
                    external_key,
                    installed_on,
                    warranty_end,
                    retire_by,
                    description,
                    attributes,
                ) = row
                customer_codes = sorted(
                    codes[c] for c in their_customers.get(pk, ()) if served is None or c in served
                )
                service_names = sorted(
                    services[s] for s in their_services.get(pk, ()) if s in services
                )
                attributes = attributes or {}
                yield [
                    name,
                    types[type_id],
                    status,
                    CRITICALITY_WORDS.get(criticality, criticality),
                    teams.get(owner_id, ""),
                    locations.get(location_id, ""),
                    ";".join(customer_codes),
                    ";".join(service_names),
                    serial,
                    asset_tag,
                    external_key,
                    _date(installed_on),
                    _date(warranty_end),
                    _date(retire_by),
                    description,
                    *(_text(attributes.get(key)) for key in keys),
                ]


def _date(value):
    return value.isoformat() if value else ""


def _grouped(through, field, ids):
    out = {}
    for ci, other in through.objects.filter(configurationitem_id__any=ids).values_list(
        "configurationitem_id", field
    ):
        out.setdefault(ci, []).append(other)
    return out


def export_cis(request):
    """The streaming CSV response of the CIs the request may see and selects."""
    qs, types = filtered_cis(request)
    keys = attribute_keys(types)
    header = [*CI_COLUMNS, *(ATTR_PREFIX + key for key in keys)]
    return stream_csv("configuration-items.csv", header, ci_rows(request.user, qs, keys))


def relationship_key(request):
    key = request.GET.get("key") or "name"
    if key not in RELATIONSHIP_KEYS:
        raise BadFilter({"key": [_("Give name, external_key or serial.")]})
    return key


def relationship_rows(user, qs, key):
    """source, source_type, type, target, target_type, note: each end named by
    ``key`` (a CI without one gets an empty cell)."""
    field = RELATIONSHIP_KEYS[key]
    fields = (
        "pk",
        f"source__{field}",
        "source__ci_type__key",
        "rel_type__key",
        f"target__{field}",
        "target__ci_type__key",
        "note",
    )
    last = 0
    while True:
        batch = list(qs.filter(pk__gt=last).order_by("pk").values_list(*fields)[:BATCH])
        if not batch:
            break
        last = batch[-1][0]
        for _pk, *cells in batch:
            yield cells


def export_relationships(request):
    """The relationships the request may see (both ends visible) whose source the CI
    filters select."""
    key = relationship_key(request)
    cis, _types = filtered_cis(request)
    qs = restrict(Relationship.objects.all(), request.user)
    if set(request.GET) & set(CIFilterSet.base_filters):
        qs = qs.filter(source__in=cis.values("pk"))
    return stream_csv(
        "relationships.csv", list(REL_COLUMNS), relationship_rows(request.user, qs, key)
    )
