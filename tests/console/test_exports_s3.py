"""Order exports in an S3-compatible bucket (`OMS_STORAGE=s3`): written by the export task, listed
and downloaded (presigned redirect) by the console, and deleted by the retention job, as on disk."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone

from console import services
from console.tasks import console_export_orders, console_purge_exports
from oms.celery import app
from tests.console.conftest import client_for

EXPORT_NAME = re.compile(r"orders-[0-9]{8}-[0-9]{6}-[0-9a-f]{8}\.csv")


def stored_exports() -> list[str]:
    """Every name under `exports/`, through the storage API (the same on disk and in a bucket)."""
    folders, _ = default_storage.listdir("exports/")
    return sorted(
        f"exports/{folder}/{name}"
        for folder in folders
        for name in default_storage.listdir(f"exports/{folder}/")[1]
    )


@pytest.fixture
def eager_tasks():
    """Tasks sent on commit run at once, in this process (the real task code, no broker)."""
    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


def test_a_large_export_is_written_to_listed_from_and_downloaded_from_the_bucket(
    s3_storage,
    world,
    rep,
    rep_client,
    admin_user,
    monkeypatch,
    eager_tasks,
    django_capture_on_commit_callbacks,
):
    world.place()
    world.place()
    monkeypatch.setattr("console.views.exports.EXPORT_SYNC_LIMIT", 1)  # two orders: the task writes it

    with django_capture_on_commit_callbacks(execute=True):
        queued = rep_client.get(reverse("admin:console-export-orders"))

    assert queued.status_code == 302
    (key,) = s3_storage.keys()
    folder, name = key.rsplit("/", 1)
    assert folder == f"exports/{rep.pk}" and EXPORT_NAME.fullmatch(name)
    content = s3_storage.read(key)
    lines = content.decode().splitlines()
    assert lines[0].startswith("number,") and len(lines) == 3
    assert s3_storage.local_files() == []

    listing = rep_client.get(reverse("admin:console-exports")).context["files"]
    assert [(f["name"], f["ready"], f["size"]) for f in listing] == [(name, True, len(content))]
    assert abs(listing[0]["at"] - timezone.now()) < timedelta(minutes=1)

    download = rep_client.get(reverse("admin:console-export-download", args=[name]))
    assert download.status_code == 302
    query = parse_qs(urlsplit(download["Location"]).query)
    assert query["response-content-type"] == ["text/csv; charset=utf-8"]
    fetched = httpx.get(download["Location"], timeout=10)
    assert (fetched.status_code, fetched.content) == (200, content)
    assert fetched.headers["content-disposition"] == f'attachment; filename="{name}"'

    other = client_for(admin_user).get(reverse("admin:console-export-download", args=[name]))
    assert other.status_code == 404
    assert "Location" not in other


def test_an_export_being_prepared_is_listed_without_a_link(s3_storage, world, rep, rep_client):
    name = services.export_new_name()
    default_storage.save(services.export_path(rep.pk, name) + services.PREPARING, ContentFile(b""))

    listing = rep_client.get(reverse("admin:console-exports")).context["files"]

    assert [(f["name"], f["ready"]) for f in listing] == [(name, False)]
    assert rep_client.get(reverse("admin:console-export-download", args=[name])).status_code == 404


@pytest.fixture(params=["local", "s3"])
def any_storage(request, settings, tmp_path):
    """The test once with files on the local disk, once in a bucket."""
    if request.param == "s3":
        return request.getfixturevalue("s3_storage")
    settings.MEDIA_ROOT = tmp_path / "media"
    return None


@pytest.mark.django_db
def test_exports_past_their_retention_are_deleted_and_nothing_else(
    any_storage, world, rep, admin_user, settings
):
    old_rep = services.order_export_write(user_id=rep.pk, name=services.export_new_name(), filters={})
    old_admin = services.order_export_write(
        user_id=admin_user.pk, name=services.export_new_name(), filters={}
    )
    notes = default_storage.save(f"exports/{rep.pk}/notes.txt", ContentFile(b"not an export"))
    time.sleep(2.5)  # object stores keep whole seconds
    recent = services.order_export_write(user_id=rep.pk, name=services.export_new_name(), filters={})

    deleted = services.exports_purge(older_than=timedelta(seconds=1.5))

    assert deleted == 2
    assert stored_exports() == sorted([notes, recent])
    assert old_rep not in stored_exports() and old_admin not in stored_exports()

    settings.OMS_EXPORT_RETENTION_DAYS = 0
    assert console_purge_exports.apply().get() == 1  # the daily job, with a retention of 0 days
    assert stored_exports() == [notes]
    assert console_purge_exports.apply().get() is None  # once a day


@pytest.mark.django_db
def test_the_export_task_writes_once_and_leaves_no_marker(s3_storage, world, rep):
    world.place()
    name = services.export_new_name()

    first = console_export_orders.apply(args=[rep.pk, name, {}]).get()
    again = console_export_orders.apply(args=[rep.pk, name, {}]).get()

    assert first == again == f"exports/{rep.pk}/{name}"
    assert s3_storage.keys() == [first]
