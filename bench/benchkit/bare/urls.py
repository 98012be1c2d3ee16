"""The bare app's one endpoint: POST a JSON incident, get its id back (201)."""

import json

from django.db import connection
from django.http import HttpResponseBadRequest, JsonResponse
from django.urls import path
from django.utils import timezone

TABLE = "bench_bare_incident"


def create(request):
    if request.method != "POST":
        return JsonResponse({"ok": True})
    try:
        data = json.loads(request.body)
    except ValueError:
        return HttpResponseBadRequest("bad json")
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {TABLE} (customer_id, service_id, short_description, description, "
            "impact, urgency, created) VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id",
            [
                data.get("customer"),
                data.get("service"),
                str(data.get("short_description", ""))[:160],
                str(data.get("description", "")),
                int(data.get("impact", 3)),
                int(data.get("urgency", 3)),
                now,
            ],
        )
        new_id = cursor.fetchone()[0]
    return JsonResponse({"id": new_id, "created": now.isoformat(), **data}, status=201)


urlpatterns = [path("create/", create)]
