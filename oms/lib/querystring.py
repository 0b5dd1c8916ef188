"""Refuse query strings that carry a NUL character.

PostgreSQL text cannot hold NUL, so a NUL that reaches a query (the admin's changelist filters and
search take query parameters straight into the ORM) fails in the database and answers 500. Forms
and serializers already refuse NUL in what they validate; the query string is the one input that
reaches queries without them. No client has a reason to send one, so the request is a bad request.
"""

from __future__ import annotations

from django.core.exceptions import SuspiciousOperation


class NulQueryStringMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if any(
            "\x00" in key or any("\x00" in value for value in values) for key, values in request.GET.lists()
        ):
            raise SuspiciousOperation("NUL character in the query string")
        return self.get_response(request)
