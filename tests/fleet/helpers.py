"""Evidence for the driver API: images and uploads (the API clients are in tests/helpers.py)."""

from __future__ import annotations

import io

from PIL import Image


def image_bytes(fmt: str = "PNG", size=(40, 20), color=(0, 0, 0)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format=fmt)
    return buffer.getvalue()


def upload(name: str, content: bytes, content_type: str = "image/png"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content, content_type=content_type)


def job_unloading(order, *, plant, truck, driver):
    """The order as one job on today's released tour of `driver`, at the site and unloading: the
    moment a driver's app sends the EPOD."""
    from datetime import timedelta

    from django.utils import timezone

    from fleet.models import Job
    from fleet.selectors import driver_today
    from fleet.services import job_assign, job_status_apply, order_split_into_jobs, tour_plan, tour_release
    from fleet.services.common import driver_actor
    from oms.lib.actors import Actor

    dispatch = Actor(kind="user", name="dispatcher@oms.example")
    tour = tour_plan(plant=plant, truck=truck, driver=driver, date=driver_today(driver), actor=dispatch)
    (job,) = order_split_into_jobs(order=order, actor=dispatch)
    job_assign(job=job, tour=tour, actor=dispatch)
    tour_release(tour=tour, actor=dispatch)
    t0 = timezone.now() - timedelta(hours=1)
    for minutes, status in enumerate(["loading", "loaded", "en_route", "arrived", "unloading"]):
        job_status_apply(
            job=job, status=status, at=t0 + timedelta(minutes=minutes), actor=driver_actor(driver)
        )
    return Job.objects.get(pk=job.pk)
