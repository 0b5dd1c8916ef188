"""Every console route × every role, generated from `console.urls.ROUTES`.

A route added without an entry in EXPECTED fails `test_every_console_route_has_a_rule`.
"""

from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse
from django.utils import timezone

from console.urls import ROUTES
from customers.models import Customer
from erp_sync.models import OrderDrift
from fleet.models import CallRequest, Job, Message, SenderRole, Tour
from oms.lib.actors import Actor
from oms.models import ErpSystem
from orders.models import Order, OrderStatus, ReturnRequest
from tests.console.conftest import client_for, make_user

REP, DISPATCHER, ADMIN = "rep", "dispatcher", "admin"
STAFF = {REP, DISPATCHER, ADMIN}
REP_ADMIN = {REP, ADMIN}
DISPATCH_ADMIN = {DISPATCHER, ADMIN}

# Route name → roles allowed.
EXPECTED: dict[str, set[str]] = {
    "console-index": STAFF,
    "console-search": STAFF,
    "console-dashboard": STAFF,
    "console-customer": STAFF,
    "console-customer-invite": REP_ADMIN,
    "console-order": STAFF,
    "console-epod-file": STAFF,
    "console-order-confirm": REP_ADMIN,
    "console-order-hold": REP_ADMIN,
    "console-order-release": REP_ADMIN,
    "console-order-cancel": REP_ADMIN,
    "console-order-cancel-approve": REP_ADMIN,
    "console-order-cancel-reject": REP_ADMIN,
    "console-order-correct": REP_ADMIN,
    "console-order-return": REP_ADMIN,
    "console-return-approve": REP_ADMIN,
    "console-return-reject": REP_ADMIN,
    "console-return-receive": REP_ADMIN,
    "console-order-resend": REP_ADMIN,
    "console-order-message": REP_ADMIN,
    "console-phone-order": REP_ADMIN,
    "console-availability": REP_ADMIN,
    "console-queue-callbacks": STAFF,
    "console-callback-assign": STAFF,
    "console-callback-start": STAFF,
    "console-callback-done": STAFF,
    "console-queue-approvals": REP_ADMIN,
    "console-queue-messages": STAFF,
    "console-message-reply": STAFF,
    "console-dispatch": DISPATCH_ADMIN,
    "console-dispatch-trucks": DISPATCH_ADMIN,
    "console-job-assign": DISPATCH_ADMIN,
    "console-tour-plan": DISPATCH_ADMIN,
    "console-order-split": DISPATCH_ADMIN,
    "console-tour-release": DISPATCH_ADMIN,
    # the delivery lifecycle
    "console-order-call-off": REP_ADMIN,
    "console-order-pause": STAFF,
    "console-order-resume": STAFF,
    "console-order-spacing": STAFF,
    "console-job-cancel": STAFF,
    "console-job-redeliver": DISPATCH_ADMIN,
    "console-job-amend": REP_ADMIN,
    "console-return-pickup": REP_ADMIN,
    "console-job-collected": REP_ADMIN,
    "console-erp-drift": STAFF,
    "console-erp-drift-check": REP_ADMIN,
    "console-erp-drift-resend": REP_ADMIN,
    "console-exports": STAFF,
    "console-export-orders": STAFF,
    "console-export-download": STAFF,
}
# Allowed GET routes that do not answer 200: the phone order form without a customer sends the
# rep to the search; a missing export file, or the EPOD of a job not delivered yet, is a 404.
ALLOWED_GET_STATUS = {"console-phone-order": 302, "console-export-download": 404, "console-epod-file": 404}
ROUTE_NAMES = [r.name for r in ROUTES]


def test_every_console_route_has_a_rule():
    assert sorted(ROUTE_NAMES) == sorted(EXPECTED)
    assert len(ROUTE_NAMES) == len(set(ROUTE_NAMES)) == 50
    assert all(r.perms for r in ROUTES)


@pytest.fixture
def objects(world):
    order = world.place(quantity="5")
    ret = ReturnRequest.objects.create(
        number="RET-T-1", order=order, reason="wrong", created_at=timezone.now(), updated_at=timezone.now()
    )
    call = CallRequest.objects.create(
        customer=world.customer,
        order=order,
        requested_by_role=SenderRole.CUSTOMER,
        reason="Call me",
        due_at=timezone.now(),
        created_at=timezone.now(),
    )
    message = Message.objects.create(
        order=order, sender_role=SenderRole.CUSTOMER, body="Hi", at=timezone.now()
    )
    job = Job.objects.create(plant=world.plant, order=order, ticket="TK-PERM-1")
    tour = Tour.objects.create(
        number="TOUR-PERM-1", date=timezone.localdate(), plant=world.plant, truck=world.truck
    )
    erp = ErpSystem.objects.create(code="ERP1", adapter="simulator")
    drift = OrderDrift.objects.create(
        system=erp, order=order, field="unknown", oms_value="placed", detected_at=timezone.now()
    )
    return {
        "customers": world.customer.pk,
        "orders": order.pk,
        "returns": ret.pk,
        "callbacks": call.pk,
        "messages": message.pk,
        "dispatch/jobs": job.pk,
        "dispatch/orders": order.pk,
        "dispatch/tours": tour.pk,
        "jobs": job.pk,
        "erp/drift": drift.pk,
    }


def _url(route, objects) -> str:
    kwargs = {}
    if "<int:pk>" in route.route:
        prefix = next(p for p in sorted(objects, key=len, reverse=True) if route.route.startswith(p + "/"))
        kwargs["pk"] = objects[prefix]
    if "<str:name>" in route.route:
        kwargs["name"] = "missing.csv"
    if "<str:kind>" in route.route:
        kwargs["kind"] = "pdf"
    return reverse(f"admin:{route.name}", kwargs=kwargs)


@pytest.mark.parametrize("role", [REP, DISPATCHER, ADMIN, "customer", "staff_without_role"])
@pytest.mark.parametrize("name", ROUTE_NAMES)
def test_route_permissions_per_role(name, role, objects):
    route = next(r for r in ROUTES if r.name == name)
    if role == "customer":
        user = make_user("customer", "carl", staff=False)
    elif role == "staff_without_role":
        user = make_user(None, "sam")
    else:
        user = make_user(role)
    client = client_for(user)
    url = _url(route, objects)
    method = "post" if "POST" in route.methods and "GET" not in route.methods else "get"

    response = getattr(client, method)(url)

    if role == "customer":
        # Not staff: the admin sends them to its login page.
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login"))
    elif role in EXPECTED[name]:
        expected = 302 if method == "post" else ALLOWED_GET_STATUS.get(name, 200)
        assert response.status_code == expected
    else:
        assert response.status_code == 403


@pytest.mark.parametrize("name", [r.name for r in ROUTES if r.methods == ("POST",)])
def test_action_routes_refuse_get(name, objects, admin_user):
    route = next(r for r in ROUTES if r.name == name)
    response = client_for(admin_user).get(_url(route, objects))
    assert response.status_code == 405


def test_dispatcher_cannot_correct_a_price_and_nothing_changes(world, dispatcher_client):
    order = world.place(quantity="5")
    response = dispatcher_client.post(
        reverse("admin:console-order-correct", args=[order.pk]),
        {"position": 1, "field": "unit_price", "new": "1.00", "reason": "discount"},
    )
    assert response.status_code == 403
    order.refresh_from_db()
    assert order.lines.get().unit_price == world.gravel.unit_price
    assert not order.events.filter(type="order.corrected").exists()
    assert not LogEntry.objects.exists()


def test_rep_cannot_edit_fleet_master_data_and_dispatcher_cannot_correct(rep, dispatcher):
    # The fleet admin (another module) relies on these model permissions.
    assert [rep.has_perm(p) for p in ("fleet.view_truck", "fleet.change_truck", "fleet.add_driver")] == [
        True,
        False,
        False,
    ]
    assert [
        dispatcher.has_perm(p) for p in ("fleet.change_truck", "orders.correct_order", "fleet.dispatch")
    ] == [
        True,
        False,
        True,
    ]


def test_dispatcher_cannot_merge_customers(world, dispatcher):
    dup = Customer.objects.create(number="C-100002", name="Ivan Petrov", email="ivan2@example.com")
    response = client_for(dispatcher).post(
        reverse("admin:customers_customer_changelist"),
        {
            "action": "merge_customers",
            "_selected_action": [world.customer.pk, dup.pk],
            "confirm": "yes",
            "survivor": world.customer.pk,
        },
    )
    # A user without change permission has no actions: the POST just shows the list again.
    assert response.status_code == 200
    dup.refresh_from_db()
    assert dup.merged_into_id is None
    assert dup.active is True


def test_rep_actions_are_audited_with_the_rep_as_actor(world, rep, rep_client):
    order = world.place(quantity="5")
    rep_client.post(
        reverse("admin:console-order-hold", args=[order.pk]), {"reason": "Customer asked to wait"}
    )
    order.refresh_from_db()
    assert order.status == OrderStatus.ON_HOLD
    event = order.events.get(type="order.held")
    assert (event.actor_kind, event.actor, event.data["reason"]) == ("user", "rita", "Customer asked to wait")
    entry = LogEntry.objects.get()
    assert (entry.user_id, entry.object_id, entry.change_message) == (
        rep.pk,
        str(order.pk),
        "Order put on hold.",
    )
    assert Actor.for_user(rep).name == "rita"
    assert Order.objects.count() == 1
