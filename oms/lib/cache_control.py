"""`Cache-Control` for every dynamic answer (static files are WhiteNoise's)."""

from __future__ import annotations

from oms.lib.files import PRIVATE_NO_STORE


class PrivateCacheMiddleware:
    """Every dynamic answer is `Cache-Control: private, no-store` unless its view chose otherwise.

    Portal and console pages, downloads and API answers carry personal and commercial data: neither
    a shared proxy nor the browser's disk cache may keep them (a signed-out user's Back button must
    not show the last customer's orders). Static files are answered by WhiteNoise before this runs
    and keep their long-lived caching.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not response.has_header("Cache-Control"):
            response["Cache-Control"] = PRIVATE_NO_STORE
        return response
