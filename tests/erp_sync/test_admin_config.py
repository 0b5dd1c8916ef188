"""ERP connections edited in the admin go through `erp_system_configure`, like `oms_erp_system`."""

import pytest
from django.contrib.auth import get_user_model

from erp_sync import secrets
from oms.models import ErpSystem

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def erp_on_the_internal_network(settings):
    settings.OMS_ERP_ALLOWED_PRIVATE_HOSTS = ["erp"]


@pytest.fixture
def admin_client(client):
    user = get_user_model().objects.create_superuser("admin", "admin@example.com", "pw-123456")
    client.force_login(user)
    return client


def form(**changes):
    return {
        "code": "ERP1",
        "name": "ERP one",
        "adapter": "http_json",
        "base_url": "http://erp",
        "enabled": "on",
        "is_default": "on",
        "poll_seconds": "15",
        "new_token": "",
        "new_secret": "",
        **changes,
    }


def test_admin_adds_and_changes_a_connection_with_encrypted_credentials(admin_client):
    added = admin_client.post("/admin/oms/erpsystem/add/", form(new_token="t-1", new_secret="s-1"))

    assert added.status_code == 302
    system = ErpSystem.objects.get()
    assert (secrets.decrypt(system.token_encrypted), secrets.decrypt(system.secret_encrypted)) == (
        "t-1",
        "s-1",
    )
    assert system.is_default

    ErpSystem.objects.filter(pk=system.pk).update(pull_cursor="c-42")
    changed = admin_client.post(
        f"/admin/oms/erpsystem/{system.pk}/change/", form(code="ERP-A", new_secret="s-2", poll_seconds="30")
    )

    assert changed.status_code == 302
    system.refresh_from_db()
    assert (system.code, system.poll_seconds, system.pull_cursor) == ("ERP-A", 30, "c-42")
    # An empty credential field keeps the stored one.
    assert (secrets.decrypt(system.token_encrypted), secrets.decrypt(system.secret_encrypted)) == (
        "t-1",
        "s-2",
    )


def test_admin_second_default_is_a_form_error(admin_client):
    ErpSystem.objects.create(code="ERP0", is_default=True)

    response = admin_client.post("/admin/oms/erpsystem/add/", form())

    assert response.status_code == 200
    assert ErpSystem.objects.count() == 1
