"""`Adapter.order_states` (docs/erp-integration.md, Order state): the http_json request against the
real HTTP fake ERP and its books, the answer's validation, the simulator and the file drop."""

from decimal import Decimal

import httpx
import pytest

from erp_sync.adapters import (
    AuthError,
    ErpLine,
    ErpOrderState,
    TransportError,
    Unsupported,
    adapter_for,
    http_json,
)
from erp_sync.adapters.base import parse_order_states
from erp_sync.relay import relay_drain
from oms.lib.actors import Actor
from oms.models import ErpSystem
from orders.services.lifecycle import Correction, order_cancel_request, order_correct
from tests.erp_sync.fake_erp import TOKEN

pytestmark = pytest.mark.django_db

REP = Actor(kind="user", name="rita")


def state(number: str, status: str = "placed", **line) -> dict:
    values = {"quantity": "8.000", "delivered": "0.000", "returned": "0.000", "cancelled": "0.000", **line}
    return {"order": number, "erp_order": None, "status": status, "lines": [{"position": 1, **values}]}


def test_http_json_asks_with_a_signed_request_and_reads_the_books(fake_erp, erp_system, world):
    first, second = world.place("8"), world.place("2.5")
    relay_drain(max_seconds=10)
    adapter = adapter_for(erp_system)

    answer = adapter.order_states([first.number, second.number, "ORD-2026-999999"])

    adapter.close()
    assert fake_erp.state_requests == [3]
    assert answer == {
        first.number: ErpOrderState(
            order=first.number,
            erp_order=None,
            status="placed",
            lines={1: ErpLine(1, Decimal("8"), Decimal("0"), Decimal("0"), Decimal("0"))},
        ),
        second.number: ErpOrderState(
            order=second.number,
            erp_order=None,
            status="placed",
            lines={1: ErpLine(1, Decimal("2.5"), Decimal("0"), Decimal("0"), Decimal("0"))},
        ),
        "ORD-2026-999999": None,
    }


def test_the_fake_erp_books_cancellations_corrections_and_line_quantities(fake_erp, erp_system, world):
    corrected, cancelled = world.place("8"), world.place("4")
    order_correct(
        order=corrected,
        corrections=[Correction(position=1, field="quantity", new=Decimal("9"), reason="x")],
        actor=REP,
    )
    order_cancel_request(order=cancelled, reason="Changed plans", actor=REP)
    for _ in range(3):  # one message per aggregate per round trip
        relay_drain(max_seconds=10)

    assert fake_erp.order_state(corrected.number)["lines"] == [
        {"position": 1, "quantity": "9.000", "delivered": "0.000", "returned": "0.000", "cancelled": "0.000"}
    ]
    assert fake_erp.order_state(cancelled.number) == {
        "order": cancelled.number,
        "erp_order": None,
        "status": "cancelled",
        "lines": [
            {
                "position": 1,
                "quantity": "4.000",
                "delivered": "0.000",
                "returned": "0.000",
                "cancelled": "4.000",
            }
        ],
    }
    fake_erp.set_order(corrected.number, status="cancelled", lines={1: {"delivered": "2.000"}})
    assert fake_erp.order_state(corrected.number)["status"] == "cancelled"
    assert fake_erp.order_state(corrected.number)["lines"][0]["delivered"] == "2.000"
    fake_erp.forget_order(corrected.number)
    assert fake_erp.order_state(corrected.number) is None


def test_delivery_confirmations_count_per_ticket_beside_item_positions(fake_erp):
    fake_erp._book_data(
        "order.created",
        {
            "number": "ORD-1",
            "status": "placed",
            "lines": [{"position": 1, "quantity": "8", "delivered": "0", "returned": "0"}],
        },
    )
    confirmation = {"order": "ORD-1", "lines": [{"position": 1, "delivered": "3.000", "returned": "0.500"}]}
    fake_erp._book_data("delivery.confirmation", {**confirmation, "ticket": "T-1"})
    fake_erp._book_data("delivery.confirmation", {**confirmation, "ticket": "T-1"})  # the same load again
    fake_erp._book_data("delivery.confirmation", {**confirmation, "ticket": "T-2"})
    assert fake_erp.order_state("ORD-1")["lines"][0] == {
        "position": 1,
        "quantity": "8.000",
        "delivered": "6.000",
        "returned": "1.000",
        "cancelled": "0.000",
    }
    positions = {
        "position": 1,
        "ordered": "8",
        "allocated": "0",
        "loaded": "6",
        "delivered": "6",
        "returned": "1",
    }
    fake_erp._book_data("item.positions", {"order": "ORD-1", "lines": [{**positions, "cancelled": "0"}]})
    assert fake_erp.order_state("ORD-1")["lines"][0]["delivered"] == "6.000"


def test_credentials_refused_is_an_auth_error(fake_erp, erp_system, monkeypatch):
    monkeypatch.setenv("ERP_ERP1_TOKEN", "wrong")
    adapter = adapter_for(erp_system)
    assert adapter.token != TOKEN

    with pytest.raises(AuthError, match="HTTP 401"):
        adapter.order_states(["ORD-1"])


@pytest.mark.parametrize(
    ("mode", "error"), [("503", "HTTP 503"), ("malformed", "not JSON"), ("hang", "timeout")]
)
def test_erp_trouble_is_a_transport_error(fake_erp, erp_system, monkeypatch, mode, error):
    monkeypatch.setattr(http_json, "TIMEOUT", httpx.Timeout(0.5))
    fake_erp.mode, fake_erp.hang_seconds = mode, 2.0

    with pytest.raises(TransportError, match=error):
        adapter_for(erp_system).order_states(["ORD-1"])


def test_an_erp_without_the_resource_is_unsupported(fake_erp, erp_system):
    fake_erp.offers_order_state = False

    with pytest.raises(Unsupported, match="HTTP 404"):
        adapter_for(erp_system).order_states(["ORD-1"])


def test_at_most_200_numbers_per_request(erp_system):
    with pytest.raises(ValueError, match="1 to 200"):
        adapter_for(erp_system).order_states([f"ORD-{i}" for i in range(201)])


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ([], "not a JSON object"),
        ({"orders": {}}, '"orders" and "unknown" must be lists'),
        ({"orders": [], "unknown": ["ORD-1"]}, "1 order(s) not answered, e.g. ORD-2"),
        (
            {"orders": [state("ORD-1"), state("ORD-2"), state("ORD-3")]},
            "orders[2].order names an order that was not asked for",
        ),
        ({"orders": [state("ORD-1"), state("ORD-2")], "unknown": ["ORD-1"]}, "order ORD-1 is answered twice"),
        (
            {"orders": [state("ORD-1", "shipped"), state("ORD-2")]},
            "orders[0].status is not an OMS order status",
        ),
        (
            {"orders": [state("ORD-1", delivered="1,5"), state("ORD-2")]},
            "lines[0].delivered is not a decimal",
        ),
        ({"orders": [state("ORD-1", quantity=8), state("ORD-2")]}, "lines[0].quantity is not a decimal"),
        ({"orders": [state("ORD-1", delivered="-1"), state("ORD-2")]}, "lines[0].delivered is not a decimal"),
        ({"orders": [{**state("ORD-1"), "lines": None}, state("ORD-2")]}, "orders[0].lines is not a list"),
        ({"orders": [{**state("ORD-1"), "erp_order": 7}, state("ORD-2")]}, "erp_order is neither"),
    ],
)
def test_a_malformed_answer_names_its_first_problem(body, problem):
    with pytest.raises(TransportError) as caught:
        parse_order_states(body, ["ORD-1", "ORD-2"])
    assert problem in str(caught.value)
    assert str(caught.value).startswith("malformed order state answer: ")


def test_unknown_may_be_left_out_and_unknown_fields_are_ignored():
    answer = parse_order_states({"orders": [{**state("ORD-1", "confirmed"), "extra": 1}]}, ["ORD-1"])
    assert answer["ORD-1"].status == "confirmed"


def test_the_simulator_answers_with_the_oms_view_of_the_orders_it_accepted(world):
    system = ErpSystem.objects.create(code="SIM", adapter="simulator", is_default=True)
    sent = world.place("3")
    relay_drain(max_seconds=5)
    waiting = world.place("1")

    answer = adapter_for(system).order_states([sent.number, waiting.number])

    assert answer == {
        sent.number: ErpOrderState(
            order=sent.number,
            erp_order=None,
            status="placed",
            lines={1: ErpLine(1, Decimal("3"), Decimal("0"), Decimal("0"), Decimal("0"))},
        ),
        waiting.number: None,
    }


def test_the_file_drop_cannot_ask(tmp_path, db):
    system = ErpSystem.objects.create(code="FILE", adapter="file_drop", base_url=f"file://{tmp_path}")

    with pytest.raises(Unsupported, match="file_drop"):
        adapter_for(system).order_states(["ORD-1"])
