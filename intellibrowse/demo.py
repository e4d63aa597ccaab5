"""Demo target pages: what the demo cases (manage.py load_demo) test, served by the app itself.

Plain views with no login, no database and no side effects, under /demo/: a form page for the
browser case, a small JSON API for the HTTP and BDD cases, and a deliberately slow endpoint for
latency assertions. Mounted in intellibrowse/urls.py.
"""

import json
import time

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

ITEMS = [
    {"id": 1, "name": "apple", "price": 1.2, "tags": ["fruit", "red"]},
    {"id": 2, "name": "bread", "price": 2.5, "tags": ["bakery"]},
    {"id": 3, "name": "cheese", "price": 6.0, "tags": ["dairy"]},
]
COLORS = ["red", "green", "blue"]
MAX_SLOW_MS = 5000


@require_GET
def form_page(request: HttpRequest) -> HttpResponse:
    return render(request, "demo/form.html", {"colors": COLORS})


@require_GET
def welcome_page(request: HttpRequest) -> HttpResponse:
    name = request.GET.get("name", "").strip() or "stranger"
    color = request.GET.get("color", "")
    return render(
        request, "demo/welcome.html", {"name": name, "color": color if color in COLORS else ""}
    )


@csrf_exempt  # a JSON API for test clients: there is no session to protect
@require_http_methods(["GET", "POST"])
def items(request: HttpRequest) -> JsonResponse:
    if request.method == "GET":
        return JsonResponse({"count": len(ITEMS), "items": ITEMS})
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        return JsonResponse({"error": "the body is not JSON"}, status=400)
    if not isinstance(body, dict) or not isinstance(body.get("name"), str) or not body["name"]:
        return JsonResponse({"error": "give a 'name'"}, status=400)
    # Echoed, not stored: the demo target has no state, so every run sees the same data.
    return JsonResponse({"id": len(ITEMS) + 1, "name": body["name"], "created": True}, status=201)


@require_GET
def item(request: HttpRequest, item_id: int) -> JsonResponse:
    found = next((i for i in ITEMS if i["id"] == item_id), None)
    if found is None:
        return JsonResponse({"error": f"no item {item_id}"}, status=404)
    return JsonResponse(found)


@require_GET
def slow(request: HttpRequest) -> JsonResponse:
    """Answers after ?ms= milliseconds (at most 5 s): a target for latency assertions."""
    try:
        delay_ms = max(0, min(int(request.GET.get("ms", "800")), MAX_SLOW_MS))
    except ValueError:
        delay_ms = 800
    time.sleep(delay_ms / 1000)  # the point of this endpoint: a slow server to test against
    return JsonResponse({"status": "slow", "delay_ms": delay_ms})


@require_GET
def health(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


app_name = "demo"
urlpatterns = [
    path("", form_page, name="form"),
    path("welcome/", welcome_page, name="welcome"),
    path("api/items", items, name="items"),
    path("api/items/<int:item_id>", item, name="item"),
    path("api/slow", slow, name="slow"),
    path("api/health", health, name="health"),
]
