"""Primary failover under load (issue #22): kiosks place orders with idempotency keys through gunicorn
while the ERP relay drains; the primary dies (kill -9 of the server and all its backends) and the
streaming replica is promoted. The processes find the new primary by themselves through the host list
and `target_session_attrs=read-write`, with the production connection settings (persistent
connections with health checks).

Asserted: 0 lost orders (every order that got a 2xx is in the promoted database), 0 duplicates (one
order per key), each outbox message delivered to the ERP exactly once, service back within 30 s of the
promotion. The figures are printed (run with -s to see them).
"""

from __future__ import annotations

import threading
import time

import pytest

from tests.erp_sync.conftest import wait_until
from tests.ops.stack import Kiosks, order_body

ORDERS = 320
KILL_AFTER = 110  # orders answered before the primary dies
DETECTION = 2.0  # seconds between the death and the promotion (a monitor's reaction time)


def replicated_synchronously(primary, replica) -> None:
    """Commit waits for the replica to have the WAL: a 2xx order cannot be lost with the primary."""
    primary.query("ALTER SYSTEM SET synchronous_standby_names = '*'")
    primary.query("SELECT pg_reload_conf()")
    wait_until(
        lambda: primary.query("SELECT sync_state FROM pg_stat_replication") == [("sync",)],
        timeout=30,
        message="the replica in sync",
    )
    assert replica.in_recovery()


@pytest.mark.slow
def test_primary_killed_and_replica_promoted_while_kiosks_order_and_the_relay_drains(
    pg_cluster, oms_stack, fake_erp
):
    primary = pg_cluster("primary")
    primary.create_database("oms")
    replica = pg_cluster.replica_of(primary)
    replicated_synchronously(primary, replica)
    oms_stack(primary.url("oms"), name="migrate").manage("migrate", "--no-input", "-v", "0")
    url = (
        f"postgres://postgres@127.0.0.1:{primary.port},127.0.0.1:{replica.port}/oms"
        "?target_session_attrs=read-write&connect_timeout=3"
    )
    # A request cut off by the failure leaves its key "in progress" until this many seconds pass.
    stack = oms_stack(url, OMS_IDEMPOTENCY_STALE_SECONDS="15")
    world = stack.world("seed", "--erp-url", fake_erp.url)
    stack.start_web(workers=4)
    stack.start_celery()
    kiosks = Kiosks(stack.url, world["kiosk_key"], retry_for=180)
    events: dict[str, float] = {}

    def failover() -> None:
        wait_until(lambda: len(kiosks.results) >= KILL_AFTER, timeout=300, message="orders before the kill")
        primary.kill9()
        events["killed"] = time.monotonic()
        time.sleep(DETECTION)
        replica.promote()
        events["promoted"] = time.monotonic()

    chaos = threading.Thread(target=failover)
    chaos.start()
    started = time.monotonic()
    kiosks.run([order_body(world) for _ in range(ORDERS)], threads=8, pace=0.05)
    chaos.join(timeout=60)
    assert set(events) == {"killed", "promoted"}

    # Every kiosk got its order in the end, each under its own key.
    assert kiosks.statuses() == {201: ORDERS}
    numbers = {attempt.key: attempt.body["number"] for attempt in kiosks.results.values()}
    assert len(set(numbers.values())) == ORDERS
    # The promoted server has exactly those orders: none lost, none twice.
    assert not replica.in_recovery()
    in_db = {number for (number,) in replica.query("SELECT number FROM orders_order", database="oms")}
    assert in_db == set(numbers.values())
    keys = replica.query(
        "SELECT key, result_ref, state FROM oms_idempotencyrecord WHERE path = '/api/v1/orders/'",
        database="oms",
    )
    assert len(keys) == ORDERS and {state for _, _, state in keys} == {"done"}

    # Service resumed: the first order answered after the promotion, and the whole gap seen by kiosks.
    failed = [a for a in kiosks.attempts if a.status is None or a.status >= 500 or a.status == 409]
    # The failover happened in the middle of the traffic: requests failed, orders came before and after.
    assert failed
    assert sum(a.at < events["killed"] for a in kiosks.results.values()) >= KILL_AFTER
    assert sum(a.at > events["promoted"] for a in kiosks.results.values()) >= ORDERS - KILL_AFTER - 20
    resumed = min(a.at for a in kiosks.attempts if a.status == 201 and a.at > events["promoted"])
    back_after = resumed - events["promoted"]
    first_failure: dict[str, float] = {}
    for attempt in failed:
        first_failure.setdefault(attempt.key, attempt.at)
    longest = max(kiosks.results[key].at - at for key, at in first_failure.items())
    print(
        f"\nfailover: {ORDERS} orders in {time.monotonic() - started:.1f} s, {len(kiosks.attempts)} requests, "
        f"{len(failed)} failed and retried ({sum(a.status is None for a in failed)} transport, "
        f"{sum((a.status or 0) >= 500 for a in failed)} 5xx, {sum(a.status == 409 for a in failed)} in progress); "
        f"first order {back_after:.2f} s after the promotion ({resumed - events['killed']:.2f} s after the kill); "
        f"the longest an order waited from its first failure: {longest:.1f} s"
    )
    assert back_after < 30

    # The relay told the ERP about every order, each message exactly once (by its id).
    wait_until(
        lambda: len(fake_erp.delivered("order.created")) == ORDERS, timeout=120, message="order.created × all"
    )
    assert {m["entity"]["key"] for m in fake_erp.delivered("order.created")} == in_db
    wait_until(
        lambda: (
            replica.query("SELECT count(*) FROM oms_outboxmessage WHERE status <> 'sent'", database="oms")
            == [(0,)]
        ),
        timeout=60,
        message="outbox sent",
    )
    outbox = {str(mid) for (mid,) in replica.query("SELECT id FROM oms_outboxmessage", database="oms")}
    assert set(fake_erp.accepted) == outbox
    assert len(fake_erp.delivered()) == len(outbox) == ORDERS
    resent = sum(count - 1 for count in fake_erp.attempts.values())
    print(f"relay: {len(outbox)} messages delivered once each; {resent} sent again and deduplicated by id")
