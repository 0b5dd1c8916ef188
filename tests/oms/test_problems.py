"""Every API error leaves as `application/problem+json` in the shape of docs/rest-api.md (Errors)."""

import json

import pytest
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions as drf
from rest_framework.authentication import BasicAuthentication
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from oms import exceptions
from oms.lib.problems import PROBLEM_CONTENT_TYPE, problem_exception_handler

factory = APIRequestFactory()


class RaisingView(APIView):
    """Raises whatever the test hands it: the exception handler is what is under test."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    exc: Exception | None = None

    def get(self, request):
        raise self.exc

    def post(self, request):
        raise self.exc


class EchoView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    def post(self, request):
        return Response(request.data)


class BasicAuthView(APIView):
    authentication_classes = [BasicAuthentication]
    permission_classes = [IsAuthenticated]

    def get(self, request):
        return Response({"ok": True})


class SessionAuthView(APIView):
    """The project defaults: session authentication, authenticated users only."""

    def get(self, request):
        return Response({"ok": True})


def call(view_class, exc=None, method="get", **kwargs):
    request = getattr(factory, method)("/api/v1/test/", **kwargs)
    view = view_class.as_view(exc=exc) if exc is not None else view_class.as_view()
    response = view(request)
    response.render()
    return response


def body_of(response):
    return json.loads(response.content)


def test_drf_validation_error_with_field_errors_is_400_with_errors_per_field():
    exc = drf.ValidationError({"quantity": ["Must be positive."], "sku": ["Unknown product."]})

    response = call(RaisingView, exc, method="post", data={}, format="json")

    assert response.status_code == 400
    assert response["Content-Type"] == PROBLEM_CONTENT_TYPE
    assert body_of(response) == {
        "type": "https://oms.example/problems/invalid",
        "title": "Invalid request",
        "status": 400,
        "code": "invalid",
        "detail": "The request has invalid fields.",
        "errors": {"quantity": ["Must be positive."], "sku": ["Unknown product."]},
    }


def test_drf_validation_error_with_a_list_becomes_non_field_errors():
    response = call(RaisingView, drf.ValidationError(["Lines must not be empty."]))

    assert response.status_code == 400
    assert body_of(response) == {
        "type": "https://oms.example/problems/invalid",
        "title": "Invalid request",
        "status": 400,
        "code": "invalid",
        "detail": "The request is not valid.",
        "errors": {"non_field_errors": ["Lines must not be empty."]},
    }


def test_malformed_json_is_400_invalid():
    request = factory.post("/api/v1/test/", data=b"{not json", content_type="application/json")

    response = EchoView.as_view()(request)
    response.render()

    assert response.status_code == 400
    assert response["Content-Type"] == PROBLEM_CONTENT_TYPE
    body = body_of(response)
    assert {key: body[key] for key in ("type", "title", "status", "code")} == {
        "type": "https://oms.example/problems/invalid",
        "title": "Malformed request",
        "status": 400,
        "code": "invalid",
    }
    assert body["detail"].startswith("JSON parse error - ")
    assert "errors" not in body


def test_domain_validation_error_is_400_with_its_detail_and_errors():
    exc = exceptions.ValidationError("Requested date is in the past.", errors={"date": ["In the past."]})

    response = call(RaisingView, exc)

    assert response.status_code == 400
    assert response["Content-Type"] == PROBLEM_CONTENT_TYPE
    assert body_of(response) == {
        "type": "https://oms.example/problems/invalid",
        "title": "Invalid request",
        "status": 400,
        "code": "invalid",
        "detail": "Requested date is in the past.",
        "errors": {"date": ["In the past."]},
    }


@pytest.mark.parametrize("exc", [Http404("Order SO-1 of another client"), drf.NotFound("secret detail")])
def test_http404_and_drf_not_found_are_404_without_revealing_anything(exc):
    response = call(RaisingView, exc)

    assert response.status_code == 404
    assert response["Content-Type"] == PROBLEM_CONTENT_TYPE
    assert body_of(response) == {
        "type": "https://oms.example/problems/not-found",
        "title": "Not found",
        "status": 404,
        "code": "not_found",
        "detail": "Not found.",
    }


def test_domain_not_found_is_404_problem():
    response = call(RaisingView, exceptions.NotFound())

    assert response.status_code == 404
    assert response["Content-Type"] == PROBLEM_CONTENT_TYPE
    assert body_of(response) == {
        "type": "https://oms.example/problems/not-found",
        "title": "Not found",
        "status": 404,
        "code": "not_found",
        "detail": "Not found.",
    }


def test_insufficient_stock_is_409_with_per_line_availability():
    exc = exceptions.InsufficientStock(
        "Not enough stock for 1 line.",
        errors={"lines": [{"sku": "AGG-0-4", "requested": "30.000", "available": "12.500"}]},
    )

    response = call(RaisingView, exc, method="post", data={}, format="json")

    assert response.status_code == 409
    assert response["Content-Type"] == PROBLEM_CONTENT_TYPE
    assert "Retry-After" not in response
    assert body_of(response) == {
        "type": "https://oms.example/problems/insufficient-stock",
        "title": "Insufficient stock",
        "status": 409,
        "code": "insufficient_stock",
        "detail": "Not enough stock for 1 line.",
        "errors": {"lines": [{"sku": "AGG-0-4", "requested": "30.000", "available": "12.500"}]},
    }


def test_invalid_transition_is_409_with_its_default_detail():
    response = call(RaisingView, exceptions.InvalidTransition())

    assert response.status_code == 409
    assert body_of(response) == {
        "type": "https://oms.example/problems/invalid-transition",
        "title": "Invalid transition",
        "status": 409,
        "code": "invalid_transition",
        "detail": "This change is not allowed in the current state.",
    }


def test_idempotency_in_progress_is_409_with_retry_after_one_second():
    response = call(RaisingView, exceptions.IdempotencyInProgress(), method="post", data={}, format="json")

    assert response.status_code == 409
    assert response["Content-Type"] == PROBLEM_CONTENT_TYPE
    assert response["Retry-After"] == "1"
    assert body_of(response) == {
        "type": "https://oms.example/problems/idempotency-in-progress",
        "title": "Request in progress",
        "status": 409,
        "code": "idempotency_in_progress",
        "detail": "A request with this Idempotency-Key is still being processed.",
    }


def test_idempotency_key_reused_is_422():
    response = call(RaisingView, exceptions.IdempotencyKeyReused(), method="post", data={}, format="json")

    assert response.status_code == 422
    assert response["Content-Type"] == PROBLEM_CONTENT_TYPE
    assert "Retry-After" not in response
    assert body_of(response) == {
        "type": "https://oms.example/problems/idempotency-key-reused",
        "title": "Idempotency key reused",
        "status": 422,
        "code": "idempotency_key_reused",
        "detail": "This Idempotency-Key was used for a different request.",
    }


def test_domain_error_extra_members_are_top_level_members_of_the_problem():
    exc = exceptions.DuplicateExternalRef(extra={"number": "SO-000042"})

    response = call(RaisingView, exc)

    assert response.status_code == 409
    assert body_of(response) == {
        "type": "https://oms.example/problems/duplicate-external-ref",
        "title": "Duplicate external reference",
        "status": 409,
        "code": "duplicate_external_ref",
        "detail": "An order with this external reference already exists for this channel.",
        "number": "SO-000042",
    }


def test_missing_credentials_with_a_challenge_are_401_with_www_authenticate():
    response = call(BasicAuthView)

    assert response.status_code == 401
    assert response["Content-Type"] == PROBLEM_CONTENT_TYPE
    assert response["WWW-Authenticate"] == 'Basic realm="api"'
    assert body_of(response) == {
        "type": "https://oms.example/problems/not-authenticated",
        "title": "Not authenticated",
        "status": 401,
        "code": "not_authenticated",
        "detail": "Authentication credentials were not provided.",
    }


@pytest.mark.django_db
def test_wrong_credentials_are_401_authentication_failed():
    response = call(BasicAuthView, HTTP_AUTHORIZATION="Basic bm9ib2R5Om5vcGU=")  # nobody:nope

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Basic realm="api"'
    assert body_of(response) == {
        "type": "https://oms.example/problems/authentication-failed",
        "title": "Authentication failed",
        "status": 401,
        "code": "authentication_failed",
        "detail": "Invalid username/password.",
    }


@pytest.mark.django_db
def test_session_api_without_login_is_403_not_authenticated_because_sessions_send_no_challenge():
    response = call(SessionAuthView)

    assert response.status_code == 403
    assert response["Content-Type"] == PROBLEM_CONTENT_TYPE
    assert "WWW-Authenticate" not in response
    assert body_of(response) == {
        "type": "https://oms.example/problems/not-authenticated",
        "title": "Not authenticated",
        "status": 403,
        "code": "not_authenticated",
        "detail": "Authentication credentials were not provided.",
    }


@pytest.mark.parametrize(
    ("exc", "detail"),
    [
        (drf.PermissionDenied(), "You do not have permission to perform this action."),
        (DjangoPermissionDenied("internal reason"), "You do not have permission to perform this action."),
        (exceptions.PermissionDenied(), "You may not do this."),
    ],
)
def test_permission_denied_is_403(exc, detail):
    response = call(RaisingView, exc)

    assert response.status_code == 403
    assert response["Content-Type"] == PROBLEM_CONTENT_TYPE
    assert body_of(response) == {
        "type": "https://oms.example/problems/permission-denied",
        "title": "Permission denied",
        "status": 403,
        "code": "permission_denied",
        "detail": detail,
    }


def test_throttled_is_429_with_retry_after_rounded_up():
    response = call(RaisingView, drf.Throttled(wait=29.2), method="post", data={}, format="json")

    assert response.status_code == 429
    assert response["Content-Type"] == PROBLEM_CONTENT_TYPE
    assert response["Retry-After"] == "30"
    assert body_of(response) == {
        "type": "https://oms.example/problems/throttled",
        "title": "Too many requests",
        "status": 429,
        "code": "throttled",
        "detail": "Request was throttled. Expected available in 30 seconds.",
    }


def test_method_not_allowed_is_405_problem():
    response = call(RaisingView, drf.NotFound(), method="delete")

    assert response.status_code == 405
    assert response["Content-Type"] == PROBLEM_CONTENT_TYPE
    assert body_of(response) == {
        "type": "https://oms.example/problems/method-not-allowed",
        "title": "Method not allowed",
        "status": 405,
        "code": "method_not_allowed",
        "detail": 'Method "DELETE" not allowed.',
    }


def test_unexpected_exception_is_left_to_django_as_a_500():
    assert problem_exception_handler(RuntimeError("bug"), {}) is None

    view = RaisingView.as_view(exc=RuntimeError("bug"))
    with pytest.raises(RuntimeError, match="bug"):
        view(factory.get("/api/v1/test/"))


@pytest.mark.django_db
def test_unknown_api_url_is_404_problem_json(client, settings):
    settings.DEBUG = False

    response = client.get("/api/v1/nope/")

    assert response.status_code == 404
    assert response["Content-Type"] == PROBLEM_CONTENT_TYPE
    assert response.json() == {
        "type": "https://oms.example/problems/not-found",
        "title": "Not found",
        "status": 404,
        "code": "not_found",
        "detail": "Not found.",
    }


@pytest.mark.django_db
def test_unknown_page_url_is_an_html_404(client, settings):
    settings.DEBUG = False

    response = client.get("/no-such-page/")

    assert response.status_code == 404
    assert response["Content-Type"] == "text/html; charset=utf-8"


@pytest.mark.django_db
def test_a_host_not_allowed_gets_a_problem_document_on_the_api_and_a_page_elsewhere(client):
    api = client.post("/api/v1/orders/", {}, content_type="application/json", HTTP_HOST="6E")
    page = client.get("/portal/", HTTP_HOST="6E")

    assert (api.status_code, api["Content-Type"]) == (400, "application/problem+json")
    assert api.json()["code"] == "invalid"
    assert page.status_code == 400 and page["Content-Type"].startswith("text/html")
