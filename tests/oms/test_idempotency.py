"""run_idempotent: an operation runs at most once per key; retries get the first response."""

import threading
import time
import uuid
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from oms.exceptions import (
    IdempotencyInProgress,
    IdempotencyKeyReused,
    InsufficientStock,
    ValidationError,
)
from oms.lib.idempotency import INVALID_KEY_MESSAGE, fingerprint, purge_expired, run_idempotent
from oms.models import IdempotencyRecord, JobSlot

SCOPE = "client:1"
PATH = "/api/v1/orders/"
PAYLOAD = {"lines": [{"sku": "AGG-0-4", "quantity": "12.000"}], "site": 7}


class Operation:
    """Counts its calls and answers like an order creation."""

    def __init__(self, result=(201, {"number": "SO-000001"}, "SO-000001"), raises=None):
        self.calls = 0
        self.result = result
        self.raises = raises

    def __call__(self):
        self.calls += 1
        if self.raises is not None:
            raise self.raises
        return self.result


def run(operation, *, key="key-1", payload=PAYLOAD, scope=SCOPE, method="POST", path=PATH):
    return run_idempotent(
        scope=scope, method=method, path=path, key=key, payload=payload, operation=operation
    )


def make_record(*, locked_until, key="key-1", payload=PAYLOAD, created_at=None, state=None):
    return IdempotencyRecord.objects.create(
        scope=SCOPE,
        method="POST",
        path=PATH,
        key=key,
        fingerprint=fingerprint("POST", PATH, payload),
        state=state or IdempotencyRecord.State.IN_FLIGHT,
        created_at=created_at or timezone.now(),
        locked_until=locked_until,
    )


@pytest.mark.django_db
def test_first_call_runs_the_operation_and_stores_its_response():
    operation = Operation()

    result = run(operation)

    assert (result.status, result.body, result.replayed, result.result_ref) == (
        201,
        {"number": "SO-000001"},
        False,
        "SO-000001",
    )
    assert operation.calls == 1
    record = IdempotencyRecord.objects.get()
    assert (record.state, record.response_status, record.response_body, record.result_ref) == (
        IdempotencyRecord.State.DONE,
        201,
        {"number": "SO-000001"},
        "SO-000001",
    )


@pytest.mark.django_db
def test_same_key_and_payload_replays_the_stored_response_without_running_again():
    run(Operation())
    second = Operation(result=(201, {"number": "SO-000002"}, "SO-000002"))

    # Key order in the JSON does not make it another request.
    result = run(second, payload={"site": 7, "lines": [{"quantity": "12.000", "sku": "AGG-0-4"}]})

    assert (result.status, result.body, result.replayed, result.result_ref) == (
        201,
        {"number": "SO-000001"},
        True,
        "SO-000001",
    )
    assert second.calls == 0
    assert IdempotencyRecord.objects.count() == 1


@pytest.mark.django_db
def test_same_key_with_a_different_payload_is_rejected_without_running():
    run(Operation())
    second = Operation()

    with pytest.raises(IdempotencyKeyReused):
        run(second, payload={**PAYLOAD, "site": 8})

    assert second.calls == 0
    assert IdempotencyRecord.objects.get().response_body == {"number": "SO-000001"}


@pytest.mark.django_db
def test_same_key_on_another_path_or_scope_is_another_request():
    run(Operation())
    other_path = Operation(result=(200, {"cancelled": True}, ""))
    other_scope = Operation(result=(201, {"number": "SO-000009"}, "SO-000009"))

    assert run(other_path, path="/api/v1/orders/SO-000001/cancel/").replayed is False
    assert run(other_scope, scope="client:2").replayed is False

    assert (other_path.calls, other_scope.calls) == (1, 1)
    assert IdempotencyRecord.objects.count() == 3


@pytest.mark.django_db
def test_business_conflict_is_stored_and_replayed_as_a_409_problem():
    error = InsufficientStock(
        "Not enough stock for 1 line.",
        errors={"lines": [{"sku": "AGG-0-4", "requested": "12.000", "available": "3.000"}]},
    )
    first = Operation(raises=error)
    expected_body = {
        "type": "https://oms.example/problems/insufficient-stock",
        "title": "Insufficient stock",
        "status": 409,
        "code": "insufficient_stock",
        "detail": "Not enough stock for 1 line.",
        "errors": {"lines": [{"sku": "AGG-0-4", "requested": "12.000", "available": "3.000"}]},
    }

    with pytest.raises(InsufficientStock):
        run(first)
    second = Operation()
    result = run(second)

    assert (result.status, result.body, result.replayed) == (409, expected_body, True)
    assert (first.calls, second.calls) == (1, 0)
    record = IdempotencyRecord.objects.get()
    assert (record.state, record.response_status) == (IdempotencyRecord.State.DONE, 409)


@pytest.mark.django_db
def test_writes_of_an_operation_that_raises_a_conflict_are_rolled_back():
    def operation():
        JobSlot.objects.create(job="idem", slot="conflict", holder="t", claimed_at=timezone.now())
        raise InsufficientStock("Not enough stock for 1 line.")

    with pytest.raises(InsufficientStock):
        run(operation)

    assert not JobSlot.objects.exists()
    assert IdempotencyRecord.objects.get().response_status == 409


@pytest.mark.django_db
def test_validation_error_stores_nothing_and_a_retry_runs_the_operation():
    failing = Operation(raises=ValidationError("Bad site.", errors={"site": ["Unknown site."]}))

    with pytest.raises(ValidationError):
        run(failing)

    assert not IdempotencyRecord.objects.exists()
    retry = Operation()
    result = run(retry)
    assert (result.status, result.replayed, retry.calls) == (201, False, 1)


@pytest.mark.django_db
def test_unexpected_error_stores_nothing_and_rolls_back_the_operation():
    def operation():
        JobSlot.objects.create(job="idem", slot="crash", holder="t", claimed_at=timezone.now())
        raise RuntimeError("bug")

    with pytest.raises(RuntimeError, match="bug"):
        run(operation)

    assert not IdempotencyRecord.objects.exists()
    assert not JobSlot.objects.exists()


@pytest.mark.django_db
def test_request_in_flight_answers_in_progress_without_running():
    make_record(locked_until=timezone.now() + timedelta(seconds=30))
    operation = Operation()

    with pytest.raises(IdempotencyInProgress):
        run(operation)

    assert operation.calls == 0
    assert IdempotencyRecord.objects.get().state == IdempotencyRecord.State.IN_FLIGHT


@pytest.mark.django_db
def test_different_payload_while_in_flight_is_key_reused():
    make_record(locked_until=timezone.now() + timedelta(seconds=30))
    operation = Operation()

    with pytest.raises(IdempotencyKeyReused):
        run(operation, payload={"other": True})

    assert operation.calls == 0


@pytest.mark.django_db
def test_stale_in_flight_record_of_a_dead_request_is_taken_over():
    stale = make_record(
        locked_until=timezone.now() - timedelta(seconds=1),
        created_at=timezone.now() - timedelta(seconds=61),
    )
    operation = Operation()

    result = run(operation)

    assert (result.status, result.body, result.replayed) == (201, {"number": "SO-000001"}, False)
    assert operation.calls == 1
    record = IdempotencyRecord.objects.get()
    assert record.pk == stale.pk
    assert (record.state, record.response_status) == (IdempotencyRecord.State.DONE, 201)


@pytest.mark.django_db
def test_an_in_flight_marker_expires_at_its_locked_until_exactly(monkeypatch):
    """The marker holds while `locked_until` is in the future; at that very instant it is stale."""
    now = timezone.now()
    stale = make_record(locked_until=now, created_at=now - timedelta(seconds=60))
    monkeypatch.setattr(timezone, "now", lambda: now)
    operation = Operation()

    result = run(operation)

    assert (result.status, result.replayed, operation.calls) == (201, False, 1)
    record = IdempotencyRecord.objects.get()
    assert (record.pk, record.state) == (stale.pk, IdempotencyRecord.State.DONE)
    assert record.locked_until == now + timedelta(seconds=settings.OMS_IDEMPOTENCY_STALE_SECONDS)


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["", "has space", "k" * 256, "ключ", "tab\there", "new\nline"])
def test_invalid_keys_are_rejected_before_anything_runs(key):
    operation = Operation()

    with pytest.raises(ValidationError) as raised:
        run(operation, key=key)

    assert raised.value.detail == INVALID_KEY_MESSAGE
    assert raised.value.errors == {"Idempotency-Key": [INVALID_KEY_MESSAGE]}
    assert operation.calls == 0
    assert not IdempotencyRecord.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["k", "k" * 255, "0b5c1a9e-6f7d-4c39-9a55-7f0f0c5b1a2e", "a!~_.:/"])
def test_valid_keys_are_accepted(key):
    assert run(Operation(), key=key).replayed is False
    assert IdempotencyRecord.objects.get().key == key


@pytest.mark.django_db
def test_purge_deletes_only_records_older_than_the_retention(settings):
    settings.OMS_IDEMPOTENCY_RETENTION_DAYS = 7
    now = timezone.now()
    ages = {
        "old": timedelta(days=8),
        "just-inside": timedelta(days=7) - timedelta(minutes=1),
        "recent": timedelta(days=6),
        "new": timedelta(0),
    }
    for key, age in ages.items():
        make_record(key=key, created_at=now - age, locked_until=now, state=IdempotencyRecord.State.DONE)

    assert purge_expired() == 1

    assert sorted(IdempotencyRecord.objects.values_list("key", flat=True)) == ["just-inside", "new", "recent"]


@pytest.mark.django_db
def test_purge_takes_an_explicit_retention():
    now = timezone.now()
    make_record(key="a", created_at=now - timedelta(days=3), locked_until=now)
    make_record(key="b", created_at=now - timedelta(hours=1), locked_until=now)

    assert purge_expired(days=2) == 1

    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["b"]


@pytest.mark.django_db(transaction=True)
def test_concurrent_retries_of_one_request_run_the_operation_once():
    threads_count = 30
    barrier = threading.Barrier(threads_count)
    outcomes: list = [None] * threads_count

    def operation():
        slot = uuid.uuid4().hex
        JobSlot.objects.create(job="idem", slot=slot, holder="op", claimed_at=timezone.now())
        time.sleep(0.05)
        return 201, {"slot": slot}, slot

    def worker(i):
        try:
            barrier.wait(timeout=10)
            outcomes[i] = run(operation, key="same-key")
        except Exception as exc:
            outcomes[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not any(thread.is_alive() for thread in threads)
    runs = [o for o in outcomes if not isinstance(o, Exception) and not o.replayed]
    replays = [o for o in outcomes if not isinstance(o, Exception) and o.replayed]
    in_progress = [o for o in outcomes if isinstance(o, IdempotencyInProgress)]
    assert len(runs) == 1
    assert len(runs) + len(replays) + len(in_progress) == threads_count
    slot = JobSlot.objects.get(job="idem").slot
    assert runs[0].body == {"slot": slot}
    assert all((r.status, r.body) == (201, {"slot": slot}) for r in replays)
    record = IdempotencyRecord.objects.get()
    assert (record.state, record.response_body) == (IdempotencyRecord.State.DONE, {"slot": slot})
