"""Leases and slot claims: a second beat or worker running the same job is harmless."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from oms.lib.lease import lease_acquire, lease_release, slot_claim
from oms.models import JobSlot, Lease

THREADS = 20


def run_together(count, work):
    """Run `work(i)` in `count` threads released at once; each thread uses its own DB connection."""
    barrier = threading.Barrier(count)
    results: list = [None] * count
    errors: list = []

    def worker(i):
        try:
            barrier.wait(timeout=10)
            results[i] = work(i)
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    return results


@pytest.fixture
def t0():
    return timezone.now().replace(microsecond=0)


@pytest.mark.django_db
def test_first_holder_acquires_a_free_lease(t0):
    assert lease_acquire("beat", holder="a", ttl_seconds=30, now=t0) is True

    lease = Lease.objects.get(name="beat")
    assert (lease.holder, lease.acquired_at, lease.expires_at) == ("a", t0, t0 + timedelta(seconds=30))


@pytest.mark.django_db
def test_holder_renews_its_lease_and_keeps_its_acquired_time(t0):
    lease_acquire("beat", holder="a", ttl_seconds=30, now=t0)

    assert lease_acquire("beat", holder="a", ttl_seconds=30, now=t0 + timedelta(seconds=10)) is True

    lease = Lease.objects.get(name="beat")
    assert (lease.holder, lease.acquired_at, lease.expires_at) == ("a", t0, t0 + timedelta(seconds=40))


@pytest.mark.django_db
def test_other_holder_is_refused_while_the_lease_is_valid(t0):
    lease_acquire("beat", holder="a", ttl_seconds=30, now=t0)

    assert lease_acquire("beat", holder="b", ttl_seconds=30, now=t0 + timedelta(seconds=10)) is False
    # At the very instant of expiry the lease still belongs to its holder.
    assert lease_acquire("beat", holder="b", ttl_seconds=30, now=t0 + timedelta(seconds=30)) is False

    lease = Lease.objects.get(name="beat")
    assert (lease.holder, lease.acquired_at, lease.expires_at) == ("a", t0, t0 + timedelta(seconds=30))


@pytest.mark.django_db
def test_renewal_pushes_back_the_takeover(t0):
    lease_acquire("beat", holder="a", ttl_seconds=30, now=t0)
    lease_acquire("beat", holder="a", ttl_seconds=30, now=t0 + timedelta(seconds=20))

    assert lease_acquire("beat", holder="b", ttl_seconds=30, now=t0 + timedelta(seconds=35)) is False
    assert Lease.objects.get(name="beat").holder == "a"


@pytest.mark.django_db
def test_other_holder_takes_over_an_expired_lease(t0):
    lease_acquire("beat", holder="a", ttl_seconds=30, now=t0)
    later = t0 + timedelta(seconds=31)

    assert lease_acquire("beat", holder="b", ttl_seconds=30, now=later) is True

    lease = Lease.objects.get(name="beat")
    assert (lease.holder, lease.acquired_at, lease.expires_at) == ("b", later, later + timedelta(seconds=30))
    # The old holder has lost it until the new one lets it expire.
    assert lease_acquire("beat", holder="a", ttl_seconds=30, now=later + timedelta(seconds=1)) is False


@pytest.mark.django_db
def test_leases_with_different_names_are_independent(t0):
    assert lease_acquire("beat", holder="a", ttl_seconds=30, now=t0) is True
    assert lease_acquire("reconcile", holder="b", ttl_seconds=30, now=t0) is True

    assert dict(Lease.objects.values_list("name", "holder")) == {"beat": "a", "reconcile": "b"}


@pytest.mark.django_db
def test_release_frees_the_lease_for_another_holder_at_once(t0):
    lease_acquire("beat", holder="a", ttl_seconds=30, now=t0)

    lease_release("beat", holder="a")

    assert not Lease.objects.filter(name="beat").exists()
    assert lease_acquire("beat", holder="b", ttl_seconds=30, now=t0 + timedelta(seconds=1)) is True


@pytest.mark.django_db
def test_release_by_a_non_holder_changes_nothing(t0):
    lease_acquire("beat", holder="a", ttl_seconds=30, now=t0)

    lease_release("beat", holder="b")

    assert Lease.objects.get(name="beat").holder == "a"


@pytest.mark.django_db
def test_slot_is_claimed_once(t0):
    assert slot_claim("sweep", "2026-11-22T08:00", holder="a") is True
    assert slot_claim("sweep", "2026-11-22T08:00", holder="b") is False
    assert slot_claim("sweep", "2026-11-22T08:01", holder="b") is True

    assert list(JobSlot.objects.order_by("slot").values_list("slot", "holder")) == [
        ("2026-11-22T08:00", "a"),
        ("2026-11-22T08:01", "b"),
    ]


def naive_acquire(name, *, holder, ttl_seconds, between):
    """Check-then-act, the way not to do it: read the lease, decide, then write."""
    now = timezone.now()
    current = Lease.objects.filter(name=name).first()
    free = current is None or current.expires_at < now or current.holder == holder
    between()
    if free:
        Lease.objects.update_or_create(
            name=name,
            defaults={
                "holder": holder,
                "expires_at": now + timedelta(seconds=ttl_seconds),
                "acquired_at": now,
            },
        )
    return free


@pytest.mark.django_db(transaction=True)
def test_check_then_act_lets_several_holders_believe_they_won():
    """The race the atomic upsert closes: every reader sees a free lease before anyone writes."""
    all_read = threading.Barrier(THREADS)

    results = run_together(
        THREADS, lambda i: naive_acquire("job", holder=f"h{i}", ttl_seconds=30, between=all_read.wait)
    )

    assert results.count(True) == THREADS
    assert Lease.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_exactly_one_of_many_concurrent_holders_gets_the_lease():
    for round_no in range(5):
        results = run_together(THREADS, lambda i: lease_acquire("job", holder=f"h{i}", ttl_seconds=30))

        winners = [f"h{i}" for i, won in enumerate(results) if won]
        assert results.count(True) == 1, f"round {round_no}: {winners}"
        assert results.count(False) == THREADS - 1
        assert list(Lease.objects.values_list("name", "holder")) == [("job", winners[0])]
        Lease.objects.all().delete()


@pytest.mark.django_db(transaction=True)
def test_exactly_one_of_many_concurrent_claims_of_a_slot_wins():
    results = run_together(THREADS, lambda i: slot_claim("sweep", "2026-11-22T08:00", holder=f"h{i}"))

    assert results.count(True) == 1
    assert results.count(False) == THREADS - 1
    winner = f"h{results.index(True)}"
    assert list(JobSlot.objects.values_list("job", "slot", "holder")) == [
        ("sweep", "2026-11-22T08:00", winner)
    ]
