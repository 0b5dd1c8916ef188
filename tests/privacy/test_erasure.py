"""Erasure of a customer contact: nothing of the person is left in any column of any table or in the
file storage, the accounts balance, the ERPs are told; a second erasure, a refusal, a missing
permission and a failure half-way change nothing."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.files.storage import default_storage

from customers.models import Customer, CustomerErasure, CustomerEvent, PortalAccess, Site
from erp_sync.envelope import validate_outbound
from erp_sync.privacy import customer_erase
from fleet.models import CallRequest, EpodPhoto, Message, ProofOfDelivery
from fleet.services.customers import customer_merge
from oms.exceptions import Conflict, PermissionDenied
from oms.lib.actors import Actor
from oms.lib.personal import ERASED
from oms.models import OutboxMessage, OutboxStatus
from orders.models import Order, OrderStatus
from orders.services.lifecycle import order_cancel
from tests.privacy.conftest import (
    CONTACT,
    EMAIL,
    NAME,
    PHONE,
    SIGNER,
    STAFF,
    accounts,
    database_hits,
    storage_hits,
    table_snapshot,
)

ADMIN = Actor(kind="user", name="privacy-officer")


def settle(rich) -> None:
    """Cancel the two orders still open, so that nothing is in progress."""
    for key in ("phone", "kiosk"):
        order_cancel(order=rich.orders[key], reason="Customer asked", actor=STAFF)


def staff_user(*perms: str, superuser: bool = False):
    user = get_user_model().objects.create_user(
        username=f"staff-{len(perms)}-{superuser}", is_staff=True, is_superuser=superuser
    )
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return get_user_model().objects.get(pk=user.pk)  # fresh permission cache


@pytest.mark.django_db(transaction=True)
def test_after_erasure_nothing_of_the_person_is_left_and_the_accounts_balance(rich):
    before_hits = database_hits(rich.terms, [rich.signature, rich.photo])
    # The search does find the person before: every place the brief lists holds them.
    for column in (
        "customers_customer.name",
        "customers_customer.email",
        "customers_site.contact_name",
        "orders_order.notes",
        "orders_orderevent.actor",
        "fleet_message.body",
        "fleet_callrequest.phone",
        "fleet_proofofdelivery.received_by",
        "oms_outboxmessage.payload",
        "erp_sync_inboxmessage.payload",
        "axes_accesslog.username",
        "axes_accessattempt.username",
        "auth_user.email",
        "django_admin_log.object_repr",
    ):
        assert column in before_hits, column
    assert sorted(storage_hits([rich.signature, rich.photo])) == sorted(rich.files[:1] + rich.files[2:])
    settle(rich)
    totals = accounts()
    outbox_before = OutboxMessage.objects.count()

    result = customer_erase(customer=rich.customer, actor=ADMIN)

    assert result.already_erased is False
    assert database_hits(rich.terms, [rich.signature, rich.photo]) == {}
    assert storage_hits([rich.signature, rich.photo]) == []
    assert [name for name in rich.files if default_storage.exists(name)] == []
    assert accounts() == totals
    customer = Customer.objects.get(pk=rich.customer.pk)
    assert (customer.name, customer.email, str(customer.phone), customer.active) == (
        f"{ERASED} {customer.number}",
        "",
        "",
        False,
    )
    assert Order.objects.filter(customer=customer).count() == 3
    epod = ProofOfDelivery.objects.get(pk=rich.epod.pk)
    assert (epod.received_by, epod.signature.name, epod.pdf.name, epod.sha256) == (
        ERASED,
        "",
        "",
        rich.epod.sha256,
    )
    assert EpodPhoto.objects.filter(epod=epod).count() == 0
    user = get_user_model().objects.get(email="", username__startswith="erased-")
    assert (user.is_active, user.has_usable_password()) == (False, False)
    # The record: who and when, no personal data; and one `customer.erased` per ERP.
    erasure = CustomerErasure.objects.get(customer=customer)
    assert (erasure.customer_number, erasure.requested_by, erasure.forced) == (
        "C-100001",
        "privacy-officer",
        False,
    )
    assert erasure.counts["files"] == 3 and erasure.counts["epods"] == 1 and erasure.counts["sign_ins"] == 3
    erased = OutboxMessage.objects.filter(type="customer.erased").order_by("system__code")
    assert [m.system.code for m in erased] == ["ERP1", "ERP2"]
    assert OutboxMessage.objects.count() == outbox_before + 2
    payload = erased[0].payload
    assert payload["customer"] == {"id": str(customer.public_id), "number": "C-100001", "erp_refs": {}}
    assert payload["orders"] == sorted(o.number for o in rich.orders.values())
    assert payload["forced"] is False
    assert validate_outbound("customer.erased", payload) == ""
    # Pending order messages still go out (without the person); the sent one stays sent.
    pending = OutboxMessage.objects.filter(aggregate_id=rich.orders["web"].number, type="order.created").get()
    assert pending.status == OutboxStatus.PENDING
    assert pending.payload["customer"]["name"] == f"{ERASED}"
    assert validate_outbound("order.created", pending.payload) == ""
    assert CustomerEvent.objects.filter(customer=customer, type="customer.erased").count() == 1


@pytest.mark.django_db
def test_a_second_erasure_changes_nothing_and_says_so(rich):
    settle(rich)
    first = customer_erase(customer=rich.customer, actor=ADMIN)
    snapshot = table_snapshot()

    again = customer_erase(customer=rich.customer, actor=Actor(kind="user", name="someone-else"))

    assert again.already_erased is True
    assert again.erasure.pk == first.erasure.pk
    assert again.erasure.requested_by == "privacy-officer"
    assert table_snapshot() == snapshot


@pytest.mark.django_db
def test_orders_in_progress_refuse_the_erasure_and_change_nothing(rich):
    snapshot = table_snapshot()

    with pytest.raises(Conflict) as refused:
        customer_erase(customer=rich.customer, actor=ADMIN)

    numbers = sorted([rich.orders["phone"].number, rich.orders["kiosk"].number])
    assert refused.value.extra == {"orders": numbers}
    assert str(refused.value.detail) == (
        f"The customer has orders in progress ({', '.join(numbers)}); erase after they are settled."
    )
    assert table_snapshot() == snapshot


@pytest.mark.django_db
def test_only_a_superuser_may_force_and_only_with_the_permission(rich):
    nobody = staff_user()
    officer = staff_user("customers.erase_personal_data")
    snapshot = table_snapshot()

    with pytest.raises(PermissionDenied, match="may not erase"):
        customer_erase(customer=rich.customer, actor=Actor.for_user(nobody))
    with pytest.raises(PermissionDenied, match="Only a superuser"):
        customer_erase(customer=rich.customer, actor=Actor.for_user(officer), force=True)
    assert table_snapshot() == snapshot

    root = staff_user(superuser=True)
    result = customer_erase(customer=rich.customer, actor=Actor.for_user(root), force=True)

    assert (result.erasure.forced, result.erasure.counts["orders_in_progress"]) == (True, 2)
    assert Order.objects.get(pk=rich.orders["phone"].pk).status == OrderStatus.PLACED
    payload = OutboxMessage.objects.filter(type="customer.erased").first().payload
    assert payload["forced"] is True


@pytest.mark.django_db(transaction=True)
def test_a_failure_half_way_changes_nothing_and_keeps_the_files(rich, monkeypatch):
    settle(rich)
    snapshot = table_snapshot()

    def broken(users):
        raise RuntimeError("the database went away")

    # Messages, call requests, EPODs, orders and sites are erased before the portal logins.
    monkeypatch.setattr("customers.privacy._anonymise_users", broken)
    with pytest.raises(RuntimeError, match="went away"):
        customer_erase(customer=rich.customer, actor=ADMIN)

    assert table_snapshot() == snapshot
    assert [name for name in rich.files if default_storage.exists(name)] == rich.files
    assert Site.objects.filter(contact_name=CONTACT).count() == 1
    assert Message.objects.filter(body__contains=NAME).count() == 2
    assert CallRequest.objects.filter(phone=PHONE).count() == 1
    assert ProofOfDelivery.objects.get(pk=rich.epod.pk).received_by == SIGNER
    assert get_user_model().objects.filter(email=EMAIL, is_active=True).count() == 1
    assert not CustomerErasure.objects.exists()


@pytest.mark.django_db
def test_a_merged_duplicate_is_the_same_contact_and_is_erased_with_the_survivor(rich):
    duplicate = Customer.objects.create(
        number="C-100002", name="Ivan G. Petrov", email="ivan.old@example.com"
    )
    customer_merge(survivor=rich.customer, duplicate=duplicate, actor=STAFF)
    settle(rich)
    snapshot = table_snapshot()

    with pytest.raises(Conflict, match="^This customer was merged into C-100001; erase that customer.$"):
        customer_erase(customer=duplicate, actor=ADMIN)
    assert table_snapshot() == snapshot

    result = customer_erase(customer=rich.customer, actor=ADMIN)

    assert result.erasure.counts["merged_duplicates"] == 1
    assert Customer.objects.get(pk=duplicate.pk).name == f"{ERASED} C-100002"
    assert database_hits(["Ivan G. Petrov", "ivan.old@example.com", *rich.terms]) == {}


@pytest.mark.django_db
def test_a_login_shared_with_another_customer_only_loses_its_access(rich):
    other = Customer.objects.create(number="C-100003", name="Petrov Build Ltd", kind=Customer.Kind.COMPANY)
    colleague = get_user_model().objects.create_user(
        username="office@example.com", email="office@example.com"
    )
    for customer in (rich.customer, other):
        PortalAccess.objects.create(customer=customer, user=colleague)
    settle(rich)

    customer_erase(customer=rich.customer, actor=ADMIN)

    colleague.refresh_from_db()
    assert (colleague.username, colleague.email, colleague.is_active) == (
        "office@example.com",
        "office@example.com",
        True,
    )
    assert list(PortalAccess.objects.filter(user=colleague).values_list("customer__number", flat=True)) == [
        "C-100003"
    ]
    assert get_user_model().objects.filter(username=EMAIL).exists() is False
