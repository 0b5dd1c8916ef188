"""The console order page and its actions: every action goes through the domain services."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from catalog.models import StockLevel
from console.selectors import sync_state
from console.services import NOT_DEAD
from customers.models import CustomerEvent
from customers.signup import signup_read
from fleet.models import Job, JobStatus, Message, SenderRole, Tour
from oms.models import OutboxMessage, OutboxStatus
from orders.models import OrderLine, OrderStatus, ReturnRequest, ReturnStatus


def url(name, order):
    return reverse(f"admin:console-{name}", args=[order.pk])


def msgs(response):
    return [str(m) for m in response.context["messages"]] if response.context else []


def test_order_page_shows_lines_timeline_with_sync_state_and_monitor_link(world, rep_client):
    order = world.place(quantity="5")
    OutboxMessage.objects.filter(aggregate_id=order.number).update(
        status=OutboxStatus.SENT, erp_ack={"status": "accepted"}
    )
    response = rep_client.get(url("order", order))
    assert response.status_code == 200
    html = response.content.decode()
    assert "GRAVEL Gravel 4-16" in html
    assert '<span class="sync sync-acknowledged">acknowledged</span>' in html
    assert f"/admin/oms/outboxmessage/?aggregate_type=order&amp;aggregate_id={order.number}" in html
    events = response.context["events"]
    assert [(e.type, e.sync_state) for e in events] == [("order.placed", "acknowledged")]


def test_sync_state_mapping():
    def msg(status, ack=None):
        return OutboxMessage(status=status, erp_ack=ack)

    assert [
        sync_state(None),
        sync_state(msg(OutboxStatus.PENDING)),
        sync_state(msg(OutboxStatus.SENT)),
        sync_state(msg(OutboxStatus.SENT, {"status": "accepted"})),
        sync_state(msg(OutboxStatus.FAILED)),
        sync_state(msg(OutboxStatus.DEAD)),
    ] == ["", "pending", "sent", "acknowledged", "failed", "failed"]


def test_admin_order_change_view_redirects_to_the_console(world, rep_client):
    order = world.place()
    response = rep_client.get(reverse("admin:orders_order_change", args=[order.pk]))
    assert response.status_code == 302
    assert response["Location"] == url("order", order)


def test_confirm_hold_release(world, rep, rep_client):
    order = world.place()
    rep_client.post(url("order-hold", order), {"reason": "Waiting for payment"})
    order.refresh_from_db()
    assert order.status == OrderStatus.ON_HOLD
    rep_client.post(url("order-release", order))
    order.refresh_from_db()
    assert order.status == OrderStatus.PLACED
    rep_client.post(url("order-confirm", order), {"erp_order_number": "SO-1"})
    order.refresh_from_db()
    assert (order.status, order.erp_order_number) == (OrderStatus.CONFIRMED, "SO-1")
    assert list(order.events.filter(actor="rita").values_list("type", flat=True)) == [
        "order.held",
        "order.released",
        "erp.acknowledged",
        "order.confirmed",
    ]
    assert list(LogEntry.objects.order_by("pk").values_list("change_message", flat=True)) == [
        "Order put on hold.",
        "Order released from hold.",
        "Order confirmed.",
    ]


def test_cancel_before_loading_cancels_at_once_and_releases_stock(world, rep_client):
    order = world.place(quantity="5")
    response = rep_client.post(url("order-cancel", order), {"reason": "Customer changed mind"}, follow=True)
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert StockLevel.objects.get(plant=world.plant, product=world.gravel).allocated == Decimal("0.000")
    assert msgs(response) == ["Cancellation recorded."]


def test_cancel_after_loading_needs_approval_then_approve_with_returned_quantity(world, rep_client):
    order = world.place(quantity="5")
    order.__class__.objects.filter(pk=order.pk).update(loading_started_at=timezone.now())
    OrderLine.objects.filter(order=order).update(loaded=Decimal("5.000"))
    rep_client.post(url("order-cancel", order), {"reason": "Site closed"})
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLATION_REQUESTED
    page = rep_client.get(url("order", order)).content.decode()
    assert 'id="approve-cancellation"' in page

    response = rep_client.post(
        url("order-cancel-approve", order), {"reason": "Approved", "qty_1": "3.000"}, follow=True
    )
    order.refresh_from_db()
    line = order.lines.get()
    assert order.status == OrderStatus.CANCELLED
    assert line.returned == Decimal("3.000")
    # 2 t left the plant and did not come back: consumed; the rest released.
    level = StockLevel.objects.get(plant=world.plant, product=world.gravel)
    assert (level.on_hand, level.allocated) == (Decimal("98.000"), Decimal("0.000"))
    assert msgs(response) == ["Cancellation approved."]


def test_reject_cancellation_request_returns_to_previous_status(world, rep_client):
    order = world.place(quantity="5")
    order.__class__.objects.filter(pk=order.pk).update(loading_started_at=timezone.now())
    rep_client.post(url("order-cancel", order), {"reason": "Site closed"})
    rep_client.post(url("order-cancel-reject", order), {"reason": "Truck already on site"})
    order.refresh_from_db()
    assert order.status == OrderStatus.PLACED
    assert order.events.filter(type="order.cancel_rejected", actor="rita").count() == 1


def test_correct_a_line_needs_a_reason(world, rep_client):
    order = world.place(quantity="5")
    response = rep_client.post(
        url("order-correct", order),
        {"position": 1, "field": "quantity", "new": "7", "reason": ""},
        follow=True,
    )
    assert order.lines.get().quantity == Decimal("5.000")
    assert not order.events.filter(type="order.corrected").exists()
    assert msgs(response) == ["reason: This field is required."]

    response = rep_client.post(
        url("order-correct", order),
        {"position": 1, "field": "unit_price", "new": "9.50", "reason": "Loyalty discount"},
        follow=True,
    )
    order.refresh_from_db()
    line = order.lines.get()
    assert (line.unit_price, line.net, order.gross_total) == (
        Decimal("9.50"),
        Decimal("47.50"),
        Decimal("57.00"),
    )
    event = order.events.get(type="order.corrected")
    assert event.actor == "rita"
    assert event.data["lines"] == [
        {"position": 1, "field": "unit_price", "old": "10.00", "new": "9.50", "reason": "Loyalty discount"}
    ]
    assert event.outbox_message.type == "order.correction"
    assert msgs(response) == ["Line corrected."]


def test_domain_errors_of_the_service_are_shown_and_nothing_is_audited(world, rep_client):
    order = world.place(quantity="5")
    order.__class__.objects.filter(pk=order.pk).update(status=OrderStatus.CANCELLED)
    response = rep_client.post(url("order-hold", order), {"reason": "late payment"}, follow=True)
    assert msgs(response) == ["An order cannot go from cancelled to on_hold."]
    assert not LogEntry.objects.exists()
    assert not order.events.filter(type="order.held").exists()


def test_create_and_approve_and_receive_a_return(world, rep_client):
    order = world.place(quantity="5")
    order.__class__.objects.filter(pk=order.pk).update(status=OrderStatus.DELIVERED)
    OrderLine.objects.filter(order=order).update(loaded=Decimal("5"), delivered=Decimal("5"))
    rep_client.post(url("order-return", order), {"reason": "Too much", "qty_1": "2"})
    ret = ReturnRequest.objects.get(order=order)
    assert ret.status == ReturnStatus.REQUESTED
    rep_client.post(reverse("admin:console-return-approve", args=[ret.pk]), {"note": "ok"})
    rep_client.post(reverse("admin:console-return-receive", args=[ret.pk]))
    ret.refresh_from_db()
    assert ret.status == ReturnStatus.RECEIVED
    assert order.lines.get().returned == Decimal("2.000")
    assert list(order.events.filter(type__startswith="return.").values_list("type", "actor")) == [
        ("return.requested", "rita"),
        ("return.approved", "rita"),
        ("return.received", "rita"),
        ("return.goods_received", "rita"),
    ]


def test_resend_dead_erp_message_sets_it_pending_and_is_on_the_timeline(world, rep, rep_client):
    order = world.place()
    message = OutboxMessage.objects.get(aggregate_id=order.number)
    OutboxMessage.objects.filter(pk=message.pk).update(
        status=OutboxStatus.DEAD, last_error="rejected: bad site"
    )
    page = rep_client.get(url("order", order)).content.decode()
    assert "Resend to ERP" in page

    response = rep_client.post(url("order-resend", order), {"message": str(message.pk)}, follow=True)
    message.refresh_from_db()
    assert message.status == OutboxStatus.PENDING
    order.refresh_from_db()
    assert order.erp_sync_state == "pending"
    event = order.events.get(type="erp.resend_requested")
    assert (event.actor, event.data["message"], event.visible_to_customer) == ("rita", str(message.pk), False)
    assert msgs(response) == ["ERP message queued for resending."]
    # A second resend of a message that is no longer dead changes nothing.
    response = rep_client.post(url("order-resend", order), {"message": str(message.pk)}, follow=True)
    assert msgs(response) == [NOT_DEAD]
    assert order.events.filter(type="erp.resend_requested").count() == 1


def test_message_to_customer_and_to_driver(world, rep_client):
    order = world.place()
    rep_client.post(url("order-message", order), {"to": "customer", "body": "Truck at 10:00"})
    tour = Tour.objects.create(
        number="T-1", date=timezone.localdate(), plant=world.plant, truck=world.truck, driver=world.driver
    )
    job = Job.objects.create(
        plant=world.plant, order=order, ticket="TK-1", tour=tour, status=JobStatus.ASSIGNED
    )
    rep_client.post(url("order-message", order), {"to": "driver", "body": "Gate code 1234"})
    rows = list(Message.objects.order_by("pk").values_list("sender_role", "sender", "body", "job_id"))
    assert rows == [
        (SenderRole.REP, "rita", "Truck at 10:00", None),
        (SenderRole.REP, "rita", "Gate code 1234", job.pk),
    ]


def test_portal_invite_sends_a_signed_link(world, rep_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        rep_client.post(
            reverse("admin:console-customer-invite", args=[world.customer.pk]), {"email": "Boss@Firm.bg"}
        )
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["boss@firm.bg"]
    link = next(line for line in mail.outbox[0].body.splitlines() if "/portal/signup/" in line)
    token = link.rsplit("/portal/signup/", 1)[1].strip("/")
    assert link.startswith(f"{settings.SITE_URL}/portal/signup/")
    assert "firm.bg" not in token
    assert signup_read(token) == ("boss@firm.bg", str(world.customer.public_id))
    assert CustomerEvent.objects.get(type="customer.portal_invited").actor == "rita"


def test_customer_360_shows_everything(world, rep_client):
    order = world.place(channel="phone")
    world.place(channel="kiosk")
    response = rep_client.get(reverse("admin:console-customer", args=[world.customer.pk]))
    assert response.status_code == 200
    assert response.context["order_count"] == 2
    assert response.context["order_counts_by_channel"] == {"phone": 1, "kiosk": 1}
    assert [s.name for s in response.context["sites"]] == ["Lozenets house"]
    assert reverse("admin:console-order", args=[order.pk]) in response.content.decode()


def test_times_are_shown_in_the_display_time_zone(world, rep_client, settings):
    """Staff see local times, as customers do: 06:30 UTC in winter is 08:30 in Sofia."""
    from datetime import UTC, datetime

    from orders.models import OrderEvent

    settings.OMS_DISPLAY_TIME_ZONE = "Europe/Sofia"
    order = world.place(quantity="5")
    OrderEvent.objects.filter(order=order).update(at=datetime(2026, 12, 7, 6, 30, tzinfo=UTC))
    html = rep_client.get(url("order", order)).content.decode()
    assert "12/07/2026 8:30 a.m." in html
    assert "6:30 a.m." not in html
    # The rest of the request cycle is back in UTC.
    assert timezone.get_current_timezone_name() == "UTC"
