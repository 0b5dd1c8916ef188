"""The outbound relay against the real HTTP fake ERP, run in-process: outcomes, order, backoff."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from erp_sync.models import SyncRun
from erp_sync.relay import BACKOFF_CAP, backoff_seconds, claim_due, relay_drain, route_unrouted
from oms.models import ErpSystem, OutboxMessage
from oms.outbox import outbox_enqueue
from orders.models import Order

pytestmark = pytest.mark.django_db


def enqueue(aggregate_id: str, count: int = 1, type_: str = "order.created"):
    with transaction.atomic():
        return [
            outbox_enqueue(
                type=type_, aggregate_type="order", aggregate_id=aggregate_id, payload={"n": i}, version=i + 1
            )
            for i in range(count)
        ]


def statuses(messages):
    return [OutboxMessage.objects.get(pk=m.pk).status for m in messages]


def test_backoff_is_exponential_capped_and_jittered():
    for attempts, ceiling in [(1, 1), (2, 2), (3, 4), (6, 32), (7, 60), (30, 60)]:
        values = [backoff_seconds(attempts) for _ in range(200)]
        assert min(values) >= ceiling / 2
        assert max(values) <= ceiling <= BACKOFF_CAP
        assert len(set(values)) > 1


def test_delivers_in_sequence_with_signed_envelopes(fake_erp, erp_system):
    messages = enqueue("ORD-1", 3)

    counts, more = relay_drain(max_seconds=10)

    # One head per aggregate per batch: three round trips, in sequence order.
    assert (dict(counts), more) == ({"accepted": 3}, False)
    assert fake_erp.post_batches == [1, 1, 1]
    assert fake_erp.arrivals[("order", "ORD-1")] == [1, 2, 3]
    assert statuses(messages) == ["sent", "sent", "sent"]
    assert [OutboxMessage.objects.get(pk=m.pk).attempts for m in messages] == [1, 1, 1]
    erp_system.refresh_from_db()
    assert (
        erp_system.last_push_at == OutboxMessage.objects.get(pk=messages[2].pk).sent_at
    )  # the monitor's "last push"
    first = fake_erp.accepted[str(messages[0].pk)]
    assert first == {
        "id": str(messages[0].pk),
        "type": "order.created",
        "occurred_at": messages[0].created_at.isoformat().replace("+00:00", "Z"),
        "entity": {"type": "order", "key": "ORD-1"},
        "version": 1,
        "sequence": 1,
        "data": {"n": 0},
    }
    run = SyncRun.objects.get(direction="push")
    assert (run.system_id, run.counts, run.outcome) == (erp_system.pk, {"accepted": 3}, "ok")


def test_batches_heads_of_many_aggregates(fake_erp, erp_system):
    for i in range(250):
        enqueue(f"ORD-{i}")

    counts, _ = relay_drain(max_seconds=10, batch_size=200)

    assert counts["accepted"] == 250
    assert fake_erp.post_batches == [200, 50]


def test_503_retries_with_backoff_and_nothing_is_lost(fake_erp, erp_system):
    messages = enqueue("ORD-1", 2)
    fake_erp.mode = "503"

    counts, _ = relay_drain(max_seconds=5)

    head = OutboxMessage.objects.get(pk=messages[0].pk)
    assert dict(counts) == {"retry": 1}
    assert (head.status, head.attempts, head.last_error[:8]) == ("failed", 1, "HTTP 503")
    assert timedelta(seconds=0.4) < head.next_attempt_at - timezone.now() <= timedelta(seconds=1)
    assert OutboxMessage.objects.get(pk=messages[1].pk).attempts == 0  # never sent before its head

    fake_erp.mode = "ok"
    OutboxMessage.objects.filter(pk=head.pk).update(next_attempt_at=timezone.now())
    counts, _ = relay_drain(max_seconds=5)
    assert counts["accepted"] == 2
    assert fake_erp.arrivals[("order", "ORD-1")] == [1, 2]


def test_rejected_message_is_dead_and_parks_only_its_aggregate(fake_erp, erp_system):
    bad = enqueue("ORD-BAD", 2)
    good = enqueue("ORD-GOOD", 2)
    fake_erp.reject_ids = {str(bad[0].pk)}

    counts, _ = relay_drain(max_seconds=5)

    assert dict(counts) == {"accepted": 2, "dead": 1}
    assert statuses(bad) == ["dead", "pending"]
    assert statuses(good) == ["sent", "sent"]
    dead = OutboxMessage.objects.get(pk=bad[0].pk)
    assert dead.last_error == "rejected: refused by the fake ERP"
    assert str(bad[1].pk) not in fake_erp.attempts


def test_permanent_400_finds_the_bad_message_one_by_one(fake_erp, erp_system, monkeypatch):
    from erp_sync.adapters.base import SendResult
    from erp_sync.adapters.http_json import HttpJsonAdapter

    messages = [enqueue(f"ORD-{i}")[0] for i in range(3)]
    bad_id = str(messages[1].pk)
    real_send = HttpJsonAdapter.send

    def send(self, envelopes):
        if any(e["id"] == bad_id for e in envelopes):
            return SendResult(kind="permanent", error="HTTP 400: bad field", http_status=400)
        return real_send(self, envelopes)

    monkeypatch.setattr(HttpJsonAdapter, "send", send)
    counts, _ = relay_drain(max_seconds=5)

    assert dict(counts) == {"accepted": 2, "dead": 1}
    assert statuses(messages) == ["sent", "dead", "sent"]
    assert [OutboxMessage.objects.get(pk=m.pk).attempts for m in messages] == [1, 1, 1]


@pytest.mark.parametrize(("count", "sends"), [(1, 1), (2, 3)])
def test_a_permanent_refusal_is_split_only_when_the_batch_has_batch_mates(
    fake_erp, erp_system, monkeypatch, count, sends
):
    """A single refused message is dead at once (no second try of the same message); two are split
    one by one, so that the good one is delivered."""
    from erp_sync.adapters.base import SendResult
    from erp_sync.adapters.http_json import HttpJsonAdapter

    messages = [enqueue(f"ORD-{i}")[0] for i in range(count)]
    bad_id = str(messages[0].pk)
    real_send = HttpJsonAdapter.send
    calls: list[int] = []

    def send(self, envelopes):
        calls.append(len(envelopes))
        if any(e["id"] == bad_id for e in envelopes):
            return SendResult(kind="permanent", error="HTTP 400: bad field", http_status=400)
        return real_send(self, envelopes)

    monkeypatch.setattr(HttpJsonAdapter, "send", send)
    counts, _ = relay_drain(max_seconds=5)

    assert len(calls) == sends
    assert dict(counts) == ({"dead": 1} if count == 1 else {"accepted": 1, "dead": 1})
    assert statuses(messages) == ["dead", "sent"][:count]


def test_credentials_refused_while_splitting_a_batch_pause_the_connection(fake_erp, erp_system, monkeypatch):
    from erp_sync.adapters.base import SendResult
    from erp_sync.adapters.http_json import HttpJsonAdapter

    messages = [enqueue(f"ORD-{i}")[0] for i in range(2)]

    def send(self, envelopes):
        if len(envelopes) > 1:
            return SendResult(kind="permanent", error="HTTP 400: bad field", http_status=400)
        return SendResult(kind="auth", error="HTTP 401", http_status=401)

    monkeypatch.setattr(HttpJsonAdapter, "send", send)
    relay_drain(max_seconds=5)

    erp_system.refresh_from_db()
    assert (erp_system.connection_state, erp_system.pause_count) == ("paused", 1)
    assert statuses(messages) == ["pending", "pending"]


def test_a_long_refusal_reason_is_cut_to_fit_the_pause_reason(fake_erp, erp_system, monkeypatch):
    from erp_sync.adapters.base import SendResult
    from erp_sync.adapters.http_json import HttpJsonAdapter

    enqueue("ORD-1")
    reason = "HTTP 401: " + "x" * 600
    monkeypatch.setattr(
        HttpJsonAdapter,
        "send",
        lambda self, envelopes: SendResult(kind="auth", error=reason, http_status=401),
    )

    relay_drain(max_seconds=5)

    erp_system.refresh_from_db()
    assert erp_system.connection_state == "paused"
    assert erp_system.paused_reason == f"credentials refused: {reason}"[:500]


def test_401_pauses_the_connection_and_parks_nothing(fake_erp, erp_system):
    messages = enqueue("ORD-1")
    fake_erp.mode = "401"

    counts, more = relay_drain(max_seconds=5)

    erp_system.refresh_from_db()
    message = OutboxMessage.objects.get(pk=messages[0].pk)
    assert (dict(counts), more) == ({}, False)
    assert (erp_system.connection_state, erp_system.pause_count) == ("paused", 1)
    assert erp_system.paused_reason.startswith("credentials refused: HTTP 401")
    assert (message.status, message.attempts) == ("pending", 0)
    assert f"credentials refused: {message.last_error}" == erp_system.paused_reason  # why it waits
    assert list(SyncRun.objects.values_list("outcome", "counts")) == [("paused", {"paused": 1})]
    from oms.selectors import erp_breaker_states

    assert erp_breaker_states()["ERP1"]["state"] == "paused"

    # While paused nothing is tried; after the pause the next success resumes the connection.
    requests = fake_erp.requests
    relay_drain(max_seconds=2)
    assert fake_erp.requests == requests
    fake_erp.mode = "ok"
    ErpSystem.objects.filter(pk=erp_system.pk).update(paused_until=timezone.now())
    relay_drain(max_seconds=2)
    erp_system.refresh_from_db()
    assert (erp_system.connection_state, erp_system.pause_count, erp_system.paused_reason) == ("ok", 0, "")
    assert statuses(messages) == ["sent"]


def test_malformed_2xx_body_is_transient(fake_erp, erp_system):
    messages = enqueue("ORD-1")
    fake_erp.mode = "malformed"

    relay_drain(max_seconds=2)

    message = OutboxMessage.objects.get(pk=messages[0].pk)
    assert (message.status, message.attempts, message.last_error) == ("failed", 1, "malformed 200 body")


def test_message_missing_from_results_is_retried(fake_erp, erp_system, monkeypatch):
    messages = enqueue("ORD-1") + enqueue("ORD-2")
    real_accept = fake_erp._accept
    dropped = str(messages[1].pk)
    monkeypatch.setattr(
        fake_erp, "_accept", lambda env: {"id": "other"} if env["id"] == dropped else real_accept(env)
    )
    # The fake answers a result for an unknown id: it is ignored, ORD-2 counts as missing.
    monkeypatch.setattr(
        fake_erp,
        "_accept",
        lambda env: {"id": "x", "status": "accepted"} if env["id"] == dropped else real_accept(env),
    )

    counts, _ = relay_drain(max_seconds=2)

    assert dict(counts) == {"accepted": 1, "retry": 1}
    assert statuses(messages) == ["sent", "failed"]
    assert OutboxMessage.objects.get(pk=messages[1].pk).last_error == "missing from the ERP's results"


def test_hanging_erp_does_not_stall_the_relay_past_its_timeout(fake_erp, erp_system, monkeypatch):
    from erp_sync.adapters import http_json

    monkeypatch.setattr(http_json, "TIMEOUT", http_json.httpx.Timeout(connect=5, read=1.5, write=1.5, pool=5))
    messages = enqueue("ORD-1")
    fake_erp.mode = "hang"

    started = time.monotonic()
    counts, _ = relay_drain(max_seconds=30)
    elapsed = time.monotonic() - started

    assert 1.4 < elapsed < 3.0
    assert dict(counts) == {"retry": 1}
    message = OutboxMessage.objects.get(pk=messages[0].pk)
    assert (message.status, message.last_error) == ("failed", "timeout: ReadTimeout")


def test_default_read_timeout_is_ten_seconds_and_connect_five():
    from erp_sync.adapters.http_json import TIMEOUT

    assert (TIMEOUT.connect, TIMEOUT.read) == (5.0, 10.0)


def test_unrouted_messages_go_to_the_default_erp_once_there_is_one(fake_erp, erp_system):
    ErpSystem.objects.filter(pk=erp_system.pk).update(is_default=False)
    messages = enqueue("ORD-1")
    assert OutboxMessage.objects.get(pk=messages[0].pk).system_id is None

    ErpSystem.objects.filter(pk=erp_system.pk).update(is_default=True)
    relay_drain(max_seconds=2)

    assert statuses(messages) == ["sent"]


def test_order_sync_state_follows_delivery(fake_erp, erp_system, world):
    order = world.place()
    assert Order.objects.get(pk=order.pk).erp_sync_state == "pending"

    relay_drain(max_seconds=2)

    assert Order.objects.get(pk=order.pk).erp_sync_state == "sent"


def test_dead_message_marks_the_order_failed(fake_erp, erp_system, world):
    order = world.place()
    fake_erp.reject_types = {"order.created"}

    relay_drain(max_seconds=2)

    assert Order.objects.get(pk=order.pk).erp_sync_state == "failed"


def test_replayed_dead_message_once_delivered_marks_the_order_sent_again(fake_erp, erp_system, world):
    from erp_sync.services import outbox_replay

    order = world.place()
    fake_erp.reject_types = {"order.created"}
    relay_drain(max_seconds=2)
    assert Order.objects.get(pk=order.pk).erp_sync_state == "failed"

    fake_erp.reject_types = set()
    assert outbox_replay(aggregate=("order", order.number)) == 1
    relay_drain(max_seconds=2)

    assert Order.objects.get(pk=order.pk).erp_sync_state == "sent"
    assert list(OutboxMessage.objects.filter(aggregate_id=order.number).values_list("status", flat=True)) == [
        "sent"
    ]


@pytest.mark.django_db(transaction=True)
def test_two_relays_claim_different_heads_longest_due_first_without_waiting(fake_erp, erp_system):
    """Two relay transactions at once (two workers draining): the second skips the heads the first
    holds, neither sending them twice nor waiting for them, and each takes the longest-due heads first.

    The heads are made due in another order than they were created (and than they lie in the table),
    so that only `ORDER BY next_attempt_at` gives the expected claims."""
    heads = {ref: enqueue(ref)[0] for ref in ("ORD-A", "ORD-B", "ORD-C", "ORD-D")}
    route_unrouted()
    now = timezone.now()
    for ref, seconds in (("ORD-D", 40), ("ORD-A", 20), ("ORD-C", 10), ("ORD-B", 30)):
        OutboxMessage.objects.filter(pk=heads[ref].pk).update(
            next_attempt_at=now - timedelta(seconds=seconds)
        )
    held, release = threading.Event(), threading.Event()
    first: list[str] = []

    def hold_first_claim() -> None:
        try:
            with transaction.atomic():
                first.extend(m.aggregate_id for m in claim_due(erp_system, limit=2))
                held.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_first_claim)
    holder.start()
    try:
        assert held.wait(timeout=10)
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '3s'")
            second = [m.aggregate_id for m in claim_due(erp_system, limit=10)]
    finally:
        release.set()
        holder.join(timeout=30)

    assert first == ["ORD-D", "ORD-B"]
    assert second == ["ORD-A", "ORD-C"]
    assert fake_erp.post_batches == []  # claiming sends nothing


def test_without_a_default_erp_nothing_is_routed_and_none_is_counted():
    """`reconcile_erp` reports this count: with no ERP to route to it must be 0, not a guess."""
    enqueue("ORD-1")

    assert route_unrouted() == 0
    assert OutboxMessage.objects.get().system_id is None


def test_a_drain_closes_the_connections_it_opened(fake_erp, erp_system, monkeypatch):
    from erp_sync.adapters.http_json import HttpJsonAdapter

    enqueue("ORD-1")
    closed: list[object] = []
    real_close = HttpJsonAdapter.close
    monkeypatch.setattr(HttpJsonAdapter, "close", lambda self: closed.append(self) or real_close(self))

    relay_drain(max_seconds=5)

    assert len(closed) == 1
