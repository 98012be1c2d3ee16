"""The bare app's one endpoint: POST a JSON incident, one ORM insert, its id back (201)."""

import json

from django.http import HttpResponseBadRequest, JsonResponse
from django.urls import path
from django.utils import timezone

from .models import BareIncident


def create(request):
    if request.method != "POST":
        return JsonResponse({"ok": True})
    try:
        data = json.loads(request.body)
    except ValueError:
        return HttpResponseBadRequest("bad json")
    row = BareIncident.objects.create(
        customer_id=data.get("customer"),
        service_id=data.get("service"),
        short_description=str(data.get("short_description", ""))[:160],
        description=str(data.get("description", "")),
        impact=int(data.get("impact", 3)),
        urgency=int(data.get("urgency", 3)),
        created=timezone.now(),
    )
    return JsonResponse({"id": row.pk, "created": row.created.isoformat(), **data}, status=201)


urlpatterns = [path("create/", create)]
