"""The driver API's permission: a driver key whose driver is active."""

from __future__ import annotations

from rest_framework import exceptions, permissions

from fleet.models import Driver
from orders.models import ApiClient


class IsDriver(permissions.BasePermission):
    """A driver key of an active driver. The driver is kept on the request as `request.driver`."""

    def has_permission(self, request, view) -> bool:
        client = getattr(request, "auth", None)
        if not isinstance(client, ApiClient):
            if not request.user or not request.user.is_authenticated:
                raise exceptions.NotAuthenticated()
            return False
        if client.kind != ApiClient.Kind.DRIVER:
            return False
        driver = Driver.objects.select_related("plant").filter(keys__client=client).first()
        request.driver = driver
        return driver is not None and driver.active
