"""The tour, job and loading state machines: every pair allowed or refused, exact events."""

import itertools
from datetime import UTC, datetime

import pytest

from fleet.models import Job, JobEvent, JobStatus, LoadingStatus, Tour, TourStatus
from fleet.state import (
    FIELD_STATUSES,
    JOB_TRANSITIONS,
    LOADING_TRANSITIONS,
    TOUR_TRANSITIONS,
    job_loading_transition,
    job_transition,
    tour_transition,
)
from oms.exceptions import InvalidTransition
from oms.lib.actors import Actor
from tests import factories as f

ACTOR = Actor(kind="driver", name="DRV-01", channel="driver")
AT = datetime(2026, 11, 23, 8, 30, tzinfo=UTC)

TOUR_ALLOWED = {
    ("planned", "released"),
    ("planned", "cancelled"),
    ("released", "started"),
    ("released", "cancelled"),
    ("started", "completed"),
}
JOB_ALLOWED = {
    ("planned", "assigned"),
    ("planned", "cancelled"),
    ("assigned", "planned"),
    ("assigned", "loading"),
    ("assigned", "en_route"),
    ("assigned", "cancelled"),
    ("loading", "loaded"),
    ("loading", "failed"),
    ("loading", "cancelled"),
    ("loaded", "en_route"),
    ("loaded", "failed"),
    ("loaded", "cancelled"),
    ("en_route", "arrived"),
    ("en_route", "failed"),
    ("arrived", "unloading"),
    ("arrived", "delivered"),
    ("arrived", "failed"),
    ("unloading", "delivered"),
    ("unloading", "failed"),
}
LOADING_ALLOWED = {
    ("not_started", "batching"),
    ("not_started", "loading"),
    ("not_started", "loaded"),
    ("batching", "loading"),
    ("batching", "loaded"),
    ("loading", "loaded"),
}


def test_maps_are_exactly_the_documented_ones():
    assert {(a, b) for a, targets in TOUR_TRANSITIONS.items() for b in targets} == TOUR_ALLOWED
    assert {(a, b) for a, targets in JOB_TRANSITIONS.items() for b in targets} == JOB_ALLOWED
    assert {(a, b) for a, targets in LOADING_TRANSITIONS.items() for b in targets} == LOADING_ALLOWED


@pytest.mark.django_db
@pytest.mark.parametrize(("source", "target"), list(itertools.product(TourStatus.values, repeat=2)))
def test_tour_transition_matrix(source, target):
    tour = f.TourFactory(status=source)
    if (source, target) in TOUR_ALLOWED:
        event = tour_transition(tour, target, actor=ACTOR, at=AT)
        tour.refresh_from_db()
        assert tour.status == target
        assert tour.version == 2
        assert list(
            JobEvent.objects.values_list("tour_id", "job_id", "type", "status", "applied", "actor", "at")
        ) == [(tour.pk, None, f"tour.{target}", target, True, "driver:DRV-01", AT)]
        assert event.data == {"from": source, "to": target}
        assert tour.started_at == (AT if target == "started" else None)
        assert tour.completed_at == (AT if target == "completed" else None)
    else:
        with pytest.raises(InvalidTransition):
            tour_transition(tour, target, actor=ACTOR, at=AT)
        fresh = Tour.objects.get(pk=tour.pk)
        assert (fresh.status, fresh.version) == (source, 1)
        assert not JobEvent.objects.exists()


STAMPS = {
    "loaded": "loaded_at",
    "en_route": "departed_at",
    "arrived": "arrived_at",
    "delivered": "delivered_at",
}


@pytest.mark.django_db
@pytest.mark.parametrize(("source", "target"), list(itertools.product(JobStatus.values, repeat=2)))
def test_job_transition_matrix(source, target):
    job = f.JobFactory(status=source)
    if (source, target) in JOB_ALLOWED:
        event = job_transition(job, target, actor=ACTOR, at=AT, lat=42.1, lon=23.2, note="n")
        job.refresh_from_db()
        assert job.status == target
        assert job.version == 2
        assert job.last_event_at == (AT if target in FIELD_STATUSES else None)
        assert list(
            JobEvent.objects.values_list("job_id", "type", "status", "applied", "lat", "lon", "note", "at")
        ) == [(job.pk, f"job.{target}", target, True, 42.1, 23.2, "n", AT)]
        assert event.data == {"from": source, "to": target}
        for status, field in STAMPS.items():
            assert getattr(job, field) == (AT if status == target else None)
    else:
        with pytest.raises(InvalidTransition):
            job_transition(job, target, actor=ACTOR, at=AT)
        fresh = Job.objects.get(pk=job.pk)
        assert (fresh.status, fresh.version, fresh.last_event_at) == (source, 1, None)
        assert not JobEvent.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(("source", "target"), list(itertools.product(LoadingStatus.values, repeat=2)))
def test_loading_transition_matrix(source, target):
    job = f.JobFactory(loading_status=source)
    if (source, target) in LOADING_ALLOWED:
        job_loading_transition(job, target, actor=ACTOR, at=AT)
        job.refresh_from_db()
        assert (job.loading_status, job.version, job.status) == (target, 2, "planned")
        assert list(JobEvent.objects.values_list("type", "status", "data")) == [
            ("job.loading_status", target, {"from": source, "to": target})
        ]
    else:
        with pytest.raises(InvalidTransition):
            job_loading_transition(job, target, actor=ACTOR, at=AT)
        fresh = Job.objects.get(pk=job.pk)
        assert (fresh.loading_status, fresh.version) == (source, 1)
        assert not JobEvent.objects.exists()
