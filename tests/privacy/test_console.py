"""The console's personal-data actions on the customer list: a rep downloads the archive, an admin
erases after a confirmation page; a role without the permission gets no action and changes nothing."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse

from customers.models import Customer, CustomerErasure
from oms import roles
from orders.services.lifecycle import order_cancel
from tests.console.conftest import client_for, make_user
from tests.privacy.conftest import NAME, STAFF, table_snapshot

CHANGELIST = "admin:customers_customer_changelist"


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def post_action(client, action: str, customers, **extra):
    return client.post(
        reverse(CHANGELIST), {"action": action, "_selected_action": [c.pk for c in customers], **extra}
    )


@pytest.mark.django_db
def test_a_rep_downloads_the_archive_of_one_customer(rich):
    rep = make_user(roles.REP, "rita")

    response = post_action(client_for(rep), "export_personal_data", [rich.customer])

    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert response["Cache-Control"].startswith("private, no-store")
    assert response["Content-Disposition"] == 'attachment; filename="C-100001-personal-data.zip"'
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    manifest = json.loads(archive.read("manifest.json"))
    assert (manifest["counts"]["orders"], manifest["counts"]["files"]) == (3, 3)
    assert LogEntry.objects.filter(user=rep, change_message="Personal data exported").count() == 1


@pytest.mark.django_db
def test_an_admin_erases_after_confirming_and_a_second_erasure_says_so(rich):
    for key in ("phone", "kiosk"):
        order_cancel(order=rich.orders[key], reason="Customer asked", actor=STAFF)
    client = client_for(make_user(roles.ADMIN, "ada"))

    confirm = post_action(client, "erase_personal_data", [rich.customer])

    assert confirm.status_code == 200
    assert confirm.templates[0].name == "admin/console/erase_confirm.html"
    assert b'name="force"' not in confirm.content  # only a superuser may force
    assert not CustomerErasure.objects.exists()

    done = post_action(client, "erase_personal_data", [rich.customer], confirm="yes")

    assert done.status_code == 302
    assert Customer.objects.get(pk=rich.customer.pk).name == "[erased] C-100001"
    assert CustomerErasure.objects.get().requested_by == "ada"
    again = post_action(client, "erase_personal_data", [rich.customer], confirm="yes")
    shown = [str(m) for m in again.wsgi_request._messages]
    # The first answer was shown after the redirect; the second is the one of the repeated erasure.
    assert shown[-1].startswith("C-100001 was erased already on ") and shown[-1].endswith(
        "; nothing changed."
    )
    assert CustomerErasure.objects.count() == 1


@pytest.mark.django_db
def test_orders_in_progress_are_a_clear_error_and_change_nothing(rich):
    client = client_for(make_user(roles.ADMIN, "ada"))
    snapshot = table_snapshot()

    response = post_action(client, "erase_personal_data", [rich.customer], confirm="yes")
    forced = post_action(client, "erase_personal_data", [rich.customer], confirm="yes", force="yes")

    numbers = ", ".join(sorted(rich.orders[key].number for key in ("phone", "kiosk")))
    assert [str(m) for m in response.wsgi_request._messages] == [
        f"C-100001: The customer has orders in progress ({numbers}); erase after they are settled."
    ]
    assert [str(m) for m in forced.wsgi_request._messages][-1] == (
        "C-100001: Only a superuser may erase a customer whose orders are in progress."
    )
    assert table_snapshot() == snapshot


@pytest.mark.django_db
@pytest.mark.parametrize("action", ["export_personal_data", "erase_personal_data"])
def test_a_dispatcher_has_neither_action(rich, action):
    client = client_for(make_user(roles.DISPATCHER, "dan"))
    snapshot = table_snapshot()

    response = post_action(client, action, [rich.customer], confirm="yes")

    # Without the permission the action does not exist: the list is shown again, nothing happens.
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert table_snapshot() == snapshot
    assert Customer.objects.get(pk=rich.customer.pk).name == NAME


@pytest.mark.django_db
def test_a_rep_cannot_erase(rich):
    client = client_for(make_user(roles.REP, "rita"))
    snapshot = table_snapshot()

    response = post_action(client, "erase_personal_data", [rich.customer], confirm="yes")

    # Reps have other actions on the list: one they lack is answered as no action at all.
    assert response.status_code == 302
    assert [str(m) for m in response.wsgi_request._messages] == ["No action selected."]
    assert table_snapshot() == snapshot
