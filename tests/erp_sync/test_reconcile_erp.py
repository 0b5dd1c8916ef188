"""Reconciliation against the ERP (docs/erp-integration.md, Order state): the comparison, its drift
rows, the resend, the command and the beat job — against the real HTTP fake ERP on loopback."""

from __future__ import annotations

import time
from datetime import timedelta
from decimal import Decimal
from io import StringIO

import httpx
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from erp_sync.adapters import ErpLine, ErpOrderState, http_json
from erp_sync.adapters.http_json import HttpJsonAdapter
from erp_sync.models import OrderDrift, SyncRun
from erp_sync.reconcile import erp_compare, order_differences
from erp_sync.relay import relay_drain
from erp_sync.services import DRIFT_RESOLVED, drift_resolve
from oms.exceptions import InvalidTransition
from oms.lib.actors import Actor
from oms.lib.lease import lease_acquire
from oms.models import ErpSystem, OutboxMessage
from orders.models import Order
from orders.services.lifecycle import Correction, order_cancel_request, order_correct

pytestmark = pytest.mark.django_db

REP = Actor(kind="user", name="rita")
OPEN = {"resolved_at__isnull": True}


def relay_all() -> int:
    """Deliver everything that is due (one message per aggregate per round trip)."""
    sent = 0
    while True:
        counts, _more = relay_drain(max_seconds=60)
        if not counts:
            return sent
        assert set(counts) <= {"accepted", "duplicate"}, counts
        sent += sum(counts.values())


def drift_rows(**filters) -> set[tuple]:
    return set(
        OrderDrift.objects.filter(**filters).values_list(
            "system__code", "order__number", "field", "position", "oms_value", "erp_value"
        )
    )


def compare_run() -> SyncRun:
    return SyncRun.objects.filter(direction="reconcile", counts__has_key="compared").order_by("-pk").first()


def line(quantity="8", delivered="0", returned="0", cancelled="0", position=1) -> ErpLine:
    return ErpLine(position, Decimal(quantity), Decimal(delivered), Decimal(returned), Decimal(cancelled))


# --- acceptance ------------------------------------------------------------------------------------


def test_500_orders_three_drifts_reported_resent_and_converged(
    fake_erp, erp_system, world, plenty_of_gravel, capsys
):
    orders = [world.place(str(1 + i % 7)) for i in range(500)]
    status_order, line_order, unknown_order = orders[10], orders[200], orders[499]
    order_cancel_request(order=status_order, reason="Changed plans", actor=REP)
    relay_all()
    assert len(fake_erp.delivered("order.created")) == 500
    clean = erp_compare(system=erp_system)
    assert (clean.outcome, clean.counts["compared"], clean.counts["differences"]) == ("ok", 500, 0)

    # The ERP lost the cancellation, believes a load was delivered, and never heard of the last order.
    fake_erp.set_order(status_order.number, status="placed")
    fake_erp.set_order(line_order.number, lines={1: {"delivered": "2.000"}})
    fake_erp.forget_order(unknown_order.number)
    requests_before = len(fake_erp.state_requests)
    started = time.perf_counter()
    result = erp_compare(system=erp_system)
    elapsed = time.perf_counter() - started

    assert drift_rows(**OPEN) == {
        ("ERP1", status_order.number, "status", None, "cancelled", "placed"),
        ("ERP1", line_order.number, "delivered", 1, "0.000", "2.000"),
        ("ERP1", unknown_order.number, "unknown", None, "placed", ""),
    }
    assert OrderDrift.objects.count() == 3
    assert result.outcome == "ok"
    assert result.counts == {
        "compared": 500,
        "requests": 3,
        "in_flight": 0,
        "unknown": 1,
        "differences": 3,
        "opened": 3,
        "converged": 0,
        "open": 3,
    }
    assert fake_erp.state_requests[requests_before:] == [200, 200, 100]
    run = compare_run()
    assert (run.system_id, run.outcome, run.counts, run.error) == (erp_system.pk, "ok", result.counts, "")
    with capsys.disabled():
        print(f"\n[erp compare] 500 orders, 3 requests: {elapsed:.3f} s")
    assert elapsed < 30

    for drift in OrderDrift.objects.filter(**OPEN).order_by("pk"):
        drift_resolve(drift=drift, actor=REP)
    resent = OutboxMessage.objects.filter(status="pending").order_by("aggregate_id", "sequence")
    assert sorted(resent.values_list("aggregate_id", "type")) == sorted(
        [
            (status_order.number, "item.positions"),
            (status_order.number, "order.cancelled"),
            (line_order.number, "item.positions"),
            (unknown_order.number, "order.created"),
            (unknown_order.number, "item.positions"),
        ]
    )
    relay_all()
    final = erp_compare(system=erp_system)

    assert OrderDrift.objects.filter(**OPEN).count() == 0
    assert (final.outcome, final.counts["compared"], final.counts["differences"]) == ("ok", 500, 0)
    assert set(OrderDrift.objects.values_list("resolution", "resolved_by")) == {("resent", "rita")}
    assert fake_erp.order_state(status_order.number)["status"] == "cancelled"
    assert fake_erp.order_state(line_order.number)["lines"][0]["delivered"] == "0.000"
    assert fake_erp.order_state(unknown_order.number)["status"] == "placed"


@pytest.mark.parametrize("mode", ["503", "hang"])
def test_erp_down_fails_the_run_and_writes_or_closes_no_drift(fake_erp, erp_system, world, monkeypatch, mode):
    monkeypatch.setattr(http_json, "TIMEOUT", httpx.Timeout(0.5))
    known, forgotten = world.place("3"), world.place("4")
    relay_all()
    books = dict(fake_erp.books)
    fake_erp.forget_order(forgotten.number)
    erp_compare(system=erp_system)
    before = list(OrderDrift.objects.values_list("pk", "field", "resolved_at", "oms_value", "erp_value"))
    assert [row[1:] for row in before] == [("unknown", None, "placed", "")]
    # A successful run now would close the `unknown` drift and open a `delivered` one.
    fake_erp.books[forgotten.number] = books[forgotten.number]
    fake_erp.set_order(known.number, lines={1: {"delivered": "1.000"}})
    fake_erp.mode, fake_erp.hang_seconds = mode, 2.0

    result = erp_compare(system=erp_system)

    assert result.outcome == "failed"
    assert result.error == ("HTTP 503" if mode == "503" else "timeout: ReadTimeout")
    run = compare_run()
    assert (run.outcome, run.counts, run.error) == ("failed", {"compared": 0, "requests": 1}, result.error)
    assert (
        list(OrderDrift.objects.values_list("pk", "field", "resolved_at", "oms_value", "erp_value")) == before
    )
    erp_system.refresh_from_db()
    assert erp_system.connection_state == "ok"

    fake_erp.mode = "ok"
    assert erp_compare(system=erp_system).counts["converged"] == 1
    assert drift_rows(**OPEN) == {("ERP1", known.number, "delivered", 1, "0.000", "1.000")}


# --- the comparison --------------------------------------------------------------------------------


def test_orders_with_messages_in_flight_are_skipped(fake_erp, erp_system, world):
    settled, corrected = world.place("3"), world.place("5")
    relay_all()
    world.place("2")  # its order.created waits
    order_correct(order=corrected, corrections=[Correction(1, "quantity", Decimal("6"), "more")], actor=REP)
    fake_erp.set_order(settled.number, lines={1: {"quantity": "9.000"}})
    fake_erp.set_order(corrected.number, lines={1: {"quantity": "9.000"}})

    result = erp_compare(system=erp_system)

    assert (result.counts["compared"], result.counts["in_flight"], result.counts["requests"]) == (1, 2, 1)
    assert drift_rows(**OPEN) == {("ERP1", settled.number, "quantity", 1, "3.000", "9.000")}


def test_an_order_changed_and_delivered_while_the_erp_answers_is_skipped(
    fake_erp, erp_system, world, monkeypatch
):
    order = world.place("3")
    relay_all()
    ask = HttpJsonAdapter.order_states

    def answer_then_change(self, numbers):
        answer = ask(self, numbers)
        order_correct(order=order, corrections=[Correction(1, "quantity", Decimal("4"), "more")], actor=REP)
        relay_all()
        return answer

    monkeypatch.setattr(HttpJsonAdapter, "order_states", answer_then_change)

    result = erp_compare(system=erp_system)

    assert (result.counts["compared"], result.counts["in_flight"], result.counts["differences"]) == (0, 1, 0)
    assert not OrderDrift.objects.exists()


def test_an_open_drift_follows_the_values_and_converges(fake_erp, erp_system, world):
    order = world.place("3")
    relay_all()
    fake_erp.set_order(order.number, lines={1: {"returned": "1.000"}})
    erp_compare(system=erp_system)
    [drift] = OrderDrift.objects.all()
    fake_erp.set_order(order.number, lines={1: {"returned": "2.000"}})

    erp_compare(system=erp_system)

    drift.refresh_from_db()
    assert (drift.erp_value, drift.resolved_at) == ("2.000", None)
    fake_erp.set_order(order.number, lines={1: {"returned": "0"}})
    assert erp_compare(system=erp_system).counts == {
        "compared": 1,
        "requests": 1,
        "in_flight": 0,
        "unknown": 0,
        "differences": 0,
        "opened": 0,
        "converged": 1,
        "open": 0,
    }
    drift.refresh_from_db()
    assert (drift.resolution, drift.resolved_by) == ("converged", "system")
    assert drift.resolved_at is not None


def test_an_old_order_with_an_open_drift_is_compared_until_it_converges(fake_erp, erp_system, world):
    order = world.place("3")
    relay_all()
    fake_erp.forget_order(order.number)
    erp_compare(system=erp_system)
    Order.objects.filter(pk=order.pk).update(created_at=timezone.now() - timedelta(days=30))

    assert erp_compare(system=erp_system).counts["compared"] == 1
    assert OrderDrift.objects.filter(**OPEN).count() == 1


def test_orders_announced_to_another_erp_are_not_asked_about(fake_erp, erp_system, world):
    world.place("3")
    relay_all()
    other = ErpSystem.objects.create(
        code="ERP2", adapter="http_json", base_url=fake_erp.url, enabled=True, is_default=False
    )

    result = erp_compare(system=other)

    assert (result.outcome, result.counts["compared"], result.counts["requests"]) == ("ok", 0, 0)


@pytest.mark.parametrize(
    ("status", "lines", "erp", "expected"),
    [
        ("confirmed", {1: line()}, ErpOrderState("O", "SO-1", "placed", {1: line("8.000")}), {}),
        ("delivered", {1: line()}, ErpOrderState("O", None, "in_delivery", {1: line()}), {}),
        (
            "cancelled",
            {1: line()},
            ErpOrderState("O", None, "confirmed", {1: line()}),
            {("status", None): ("cancelled", "confirmed")},
        ),
        ("rejected", {1: line()}, ErpOrderState("O", None, "rejected", {}), {}),
        (
            "placed",
            {1: line(), 2: line("1")},
            ErpOrderState("O", None, "placed", {1: line(cancelled="0.5"), 3: line("2")}),
            {
                ("cancelled", 1): ("0.000", "0.500"),
                ("line", 2): ("1.000", ""),
                ("line", 3): ("", "2.000"),
            },
        ),
        ("placed", {1: line()}, None, {("unknown", None): ("placed", "")}),
    ],
)
def test_what_counts_as_a_difference(status, lines, erp, expected):
    assert order_differences(status, lines, erp) == expected


def test_a_file_drop_records_unsupported(tmp_path, db):
    system = ErpSystem.objects.create(code="FILE", adapter="file_drop", base_url=f"file://{tmp_path}")

    result = erp_compare(system=system)

    assert (result.outcome, compare_run().outcome) == ("unsupported", "unsupported")
    assert "file_drop" in compare_run().error


def test_a_01_erp_without_the_resource_records_unsupported(fake_erp, erp_system, world):
    world.place("1")
    relay_all()
    fake_erp.offers_order_state = False

    assert erp_compare(system=erp_system).outcome == "unsupported"
    assert not OrderDrift.objects.exists()


def test_a_malformed_answer_fails_the_run(fake_erp, erp_system, world):
    world.place("1")
    relay_all()
    fake_erp.mode = "malformed"

    result = erp_compare(system=erp_system)

    assert (result.outcome, result.error) == ("failed", "malformed order state answer: not JSON")


def test_a_run_past_its_time_budget_gives_up_as_failed(fake_erp, erp_system, world):
    world.place("1")
    relay_all()

    result = erp_compare(system=erp_system, max_seconds=-1)

    assert (result.outcome, result.error) == ("failed", "gave up after -1 s with 0 orders answered")
    assert fake_erp.state_requests == []


def test_one_comparison_per_erp_at_a_time(fake_erp, erp_system):
    assert lease_acquire("erp-compare:ERP1", holder="other", ttl_seconds=60)

    assert erp_compare(system=erp_system).outcome == "busy"
    assert compare_run() is None


# --- resolving -------------------------------------------------------------------------------------


def test_resolving_twice_is_refused_and_siblings_are_resolved_together(fake_erp, erp_system, world):
    order = world.place("3")
    relay_all()
    fake_erp.set_order(order.number, status="cancelled", lines={1: {"delivered": "1.000"}})
    erp_compare(system=erp_system)
    first, second = OrderDrift.objects.order_by("pk")

    resolved = drift_resolve(drift=second, actor=REP)

    assert {d.pk for d in resolved} == {first.pk, second.pk}
    with pytest.raises(InvalidTransition, match=DRIFT_RESOLVED):
        drift_resolve(drift=first, actor=REP)
    event = Order.objects.get(pk=order.pk).events.get(type="erp.drift_resent")
    assert (event.actor, event.visible_to_customer, event.data["system"], len(event.data["drifts"])) == (
        "rita",
        False,
        "ERP1",
        2,
    )
    assert OutboxMessage.objects.filter(status="pending").get().type == "item.positions"


def test_the_resend_goes_to_the_drifts_erp(fake_erp, erp_system, world):
    order = world.place("3")
    relay_all()
    fake_erp.forget_order(order.number)
    erp_compare(system=erp_system)
    other = ErpSystem.objects.create(code="ERP2", adapter="simulator", enabled=True)
    Order.objects.filter(pk=order.pk).update(erp_system=other)

    drift_resolve(drift=OrderDrift.objects.get(), actor=REP)

    assert set(OutboxMessage.objects.filter(status="pending").values_list("system__code", flat=True)) == {
        "ERP1"
    }
    created = OutboxMessage.objects.get(status="pending", type="order.created")
    assert (created.payload["number"], created.payload["status"]) == (order.number, "placed")


# --- command and beat ------------------------------------------------------------------------------


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_erp_reconcile_compare_prints_one_line(fake_erp, erp_system, world):
    order = world.place("2")
    relay_all()
    fake_erp.forget_order(order.number)

    output = run("erp_reconcile", "--compare", "--system", "ERP1")

    assert output.startswith(
        "compared: system=ERP1 outcome=ok compared=1 converged=0 differences=1 in_flight=0 open=1 opened=1 "
        "requests=1 unknown=1 seconds="
    )
    assert output.count("\n") == 1
    assert "marked_sent" in run("erp_reconcile")  # the repair is unchanged


def test_erp_reconcile_compare_fails_loudly(fake_erp, erp_system, world):
    world.place("2")
    relay_all()
    fake_erp.mode = "503"
    out = StringIO()

    with pytest.raises(CommandError, match="The comparison failed for ERP1"):
        call_command("erp_reconcile", "--compare", stdout=out)
    assert "outcome=failed" in out.getvalue()
    with pytest.raises(CommandError, match="--days"):
        run("erp_reconcile", "--compare", "--days", "0")


def test_the_hourly_beat_job_queues_one_comparison_per_erp(erp_system, monkeypatch, tmp_path):
    from erp_sync import tasks
    from oms.celery import BEAT_SCHEDULE

    ErpSystem.objects.create(code="OFF", adapter="http_json", base_url="http://x", enabled=False)
    ErpSystem.objects.create(code="FILE", adapter="file_drop", base_url=f"file://{tmp_path}")
    queued = []
    monkeypatch.setattr(tasks.compare_system, "apply_async", lambda args, **kw: queued.append(args))

    assert BEAT_SCHEDULE["erp-compare"] == ("erp_sync.tasks.compare_all", 3600.0)
    assert tasks.compare_all.apply().get() == ["ERP1", "FILE"]
    assert tasks.compare_all.apply().get() is None  # this hour's slot is taken
    assert queued == [["ERP1"], ["FILE"]]
    assert tasks.compare_system.apply(args=["FILE"]).get() == {
        "outcome": "unsupported",
        "compared": 0,
        "requests": 0,
    }
    assert tasks.compare_system.apply(args=["OFF"]).get() is None
