"""A starting set of CI types and relationship types; administrators change them."""

from django.db import migrations

ENVIRONMENTS = ["production", "acceptance", "test", "development"]

TYPES = [
    # key, name, is_location, [(key, label, kind, required, choices, reference type key)]
    (
        "server",
        "Server",
        False,
        [
            ("hostname", "Host name", "text", False, [], None),
            ("ip_address", "IP address", "ip", False, [], None),
            ("operating_system", "Operating system", "text", False, [], None),
            ("cpu_cores", "CPU cores", "number", False, [], None),
            ("memory_gb", "Memory (GB)", "number", False, [], None),
            ("environment", "Environment", "choice", False, ENVIRONMENTS, None),
        ],
    ),
    (
        "virtual-machine",
        "Virtual machine",
        False,
        [
            ("hostname", "Host name", "text", False, [], None),
            ("ip_address", "IP address", "ip", False, [], None),
            ("operating_system", "Operating system", "text", False, [], None),
            ("cpu_cores", "vCPUs", "number", False, [], None),
            ("memory_gb", "Memory (GB)", "number", False, [], None),
            ("environment", "Environment", "choice", False, ENVIRONMENTS, None),
        ],
    ),
    (
        "application",
        "Application",
        False,
        [
            ("version", "Version", "text", False, [], None),
            ("vendor", "Vendor", "text", False, [], None),
            ("url", "URL", "text", False, [], None),
            ("environment", "Environment", "choice", False, ENVIRONMENTS, None),
        ],
    ),
    (
        "database",
        "Database",
        False,
        [
            (
                "engine",
                "Engine",
                "choice",
                False,
                ["PostgreSQL", "MariaDB/MySQL", "SQL Server", "Oracle", "SQLite", "Other"],
                None,
            ),
            ("version", "Version", "text", False, [], None),
            ("size_gb", "Size (GB)", "number", False, [], None),
            ("environment", "Environment", "choice", False, ENVIRONMENTS, None),
        ],
    ),
    (
        "network-device",
        "Network device",
        False,
        [
            (
                "role",
                "Role",
                "choice",
                False,
                ["router", "switch", "firewall", "access point", "load balancer"],
                None,
            ),
            ("ip_address", "Management IP address", "ip", False, [], None),
            ("model", "Model", "text", False, [], None),
            ("firmware", "Firmware", "text", False, [], None),
        ],
    ),
    (
        "storage",
        "Storage",
        False,
        [
            ("capacity_tb", "Capacity (TB)", "number", False, [], None),
            ("model", "Model", "text", False, [], None),
            ("protocol", "Protocol", "choice", False, ["NFS", "SMB", "iSCSI", "FC", "S3"], None),
        ],
    ),
    (
        "location",
        "Location",
        True,
        [
            ("address", "Address", "text", False, [], None),
            ("site_code", "Site code", "text", False, [], None),
        ],
    ),
    (
        "document",
        "Document",
        False,
        [
            (
                "document_type",
                "Document type",
                "choice",
                False,
                ["contract", "manual", "policy", "diagram", "licence"],
                None,
            ),
            ("url", "URL", "text", False, [], None),
            ("review_date", "Review date", "date", False, [], None),
        ],
    ),
    ("business-service", "Business service link", False, []),
]

RELATIONSHIPS = [
    # key, name, reverse name, impact, acyclic, allowed pairs
    ("depends-on", "depends on", "used by", "to_source", True, []),
    (
        "runs-on",
        "runs on",
        "hosts",
        "to_source",
        True,
        [
            ("application", "server"),
            ("application", "virtual-machine"),
            ("database", "server"),
            ("database", "virtual-machine"),
            ("virtual-machine", "server"),
        ],
    ),
    ("connects-to", "connects to", "connected from", "both", False, []),
    ("part-of", "part of", "contains", "to_target", True, []),
    ("backed-up-by", "backed up by", "backs up", "none", False, []),
]


def create(apps, schema_editor):
    CIType = apps.get_model("cmdb", "CIType")
    Definition = apps.get_model("cmdb", "AttributeDefinition")
    RelationshipType = apps.get_model("cmdb", "RelationshipType")
    AllowedPair = apps.get_model("cmdb", "AllowedPair")
    types = {}
    for key, name, is_location, attributes in TYPES:
        types[key] = CIType.objects.create(key=key, name=name, is_location=is_location)
        for order, (akey, label, kind, required, choices, ref) in enumerate(attributes):
            Definition.objects.create(
                ci_type=types[key],
                key=akey,
                label=label,
                kind=kind,
                required=required,
                choices=choices,
                reference_type=types.get(ref) if ref else None,
                order=order,
            )
    for key, name, reverse, impact, acyclic, pairs in RELATIONSHIPS:
        rel = RelationshipType.objects.create(
            key=key, name=name, reverse_name=reverse, impact=impact, acyclic=acyclic
        )
        for source, target in pairs:
            AllowedPair.objects.create(
                rel_type=rel, source_type=types[source], target_type=types[target]
            )


class Migration(migrations.Migration):
    dependencies = [("cmdb", "0001_initial")]

    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
