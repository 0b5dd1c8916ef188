from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from oms.lib.problems import PROBLEM_CONTENT_TYPE, problem
from oms.metrics import metrics_allowed, metrics_text


@require_GET
def home(request):
    return render(request, "home.html")


@require_GET
@never_cache
def metrics(request):
    """Prometheus exposition; a 404 to anyone without the token or outside the allowed networks."""
    if not metrics_allowed(request):
        raise Http404
    body, content_type = metrics_text()
    return HttpResponse(body, content_type=content_type)


def _wants_problem(request) -> bool:
    return request.path.startswith("/api/")


def not_found(request, exception=None):
    if _wants_problem(request):
        body = problem(status=404, code="not_found", title="Not found", detail="Not found.")
        return JsonResponse(body, status=404, content_type=PROBLEM_CONTENT_TYPE)
    return render(request, "404.html", status=404)


def bad_request(request, exception=None):
    """A request Django refuses before any view (e.g. a Host header not in ALLOWED_HOSTS)."""
    if _wants_problem(request):
        body = problem(status=400, code="invalid", title="Invalid request", detail="Bad request.")
        return JsonResponse(body, status=400, content_type=PROBLEM_CONTENT_TYPE)
    return render(request, "400.html", status=400)


def server_error(request):
    if _wants_problem(request):
        body = problem(
            status=500,
            code="server_error",
            title="Server error",
            detail="An unexpected error occurred. It has been logged.",
        )
        return JsonResponse(body, status=500, content_type=PROBLEM_CONTENT_TYPE)
    return render(request, "500.html", status=500)
