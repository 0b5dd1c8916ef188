"""Retention of the sync history: finished rows past their period go (archived first when configured),
everything still in work stays, and a second run in the same day does nothing."""

import gzip
import json
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from erp_sync.models import InboxMessage, SyncRun
from erp_sync.retention import erp_history_purge
from erp_sync.tasks import history_purge
from oms.models import OutboxMessage
from tests import factories as f

pytestmark = pytest.mark.django_db


def days_ago(days: float):
    return timezone.now() - timedelta(days=days)


@pytest.fixture
def history(db):
    """Inbox 8 rows (4 finished and old), outbox 7 (3 sent and old), sync runs 3 (2 old)."""
    system = f.ErpSystemFactory(code="ERP-H")
    inbox = {}
    for name, status, age in [
        ("old-processed-1", "processed", 31),
        ("old-processed-2", "processed", 45),
        ("old-processed-3", "processed", 300),
        ("old-stale", "stale", 31),
        ("new-processed-1", "processed", 29),
        ("new-processed-2", "processed", 1),
        ("old-failed", "failed", 60),
        ("old-received", "received", 60),
    ]:
        inbox[name] = InboxMessage.objects.create(
            system=system, message_id=name, type="order.ack", status=status, received_at=days_ago(age)
        )
    outbox = {}
    for n, (name, status, sent_age, created_age) in enumerate(
        [
            ("old-sent-1", "sent", 31, 31),
            ("old-sent-2", "sent", 40, 41),
            ("old-sent-3", "sent", 90, 90),
            ("new-sent", "sent", 29, 40),
            ("old-pending", "pending", None, 40),
            ("old-failed", "failed", None, 40),
            ("old-dead", "dead", None, 40),
        ]
    ):
        outbox[name] = OutboxMessage.objects.create(
            system=system,
            type="order.created",
            aggregate_type="order",
            aggregate_id=f"ORD-{n}",
            sequence=1,
            payload={"n": n},
            status=status,
            next_attempt_at=days_ago(created_age),
            created_at=days_ago(created_age),
            sent_at=None if sent_age is None else days_ago(sent_age),
        )
    runs = {
        name: SyncRun.objects.create(
            system=system, direction="pull", started_at=days_ago(age), outcome="ok", counts={"n": age}
        )
        for name, age in [("old-1", 91), ("old-2", 400), ("new", 89)]
    }
    return inbox, outbox, runs


def remaining(model, field):
    return sorted(model.objects.values_list(field, flat=True))


def read_archive(path: Path) -> list[dict]:
    with gzip.open(path, "rt") as archive:
        return [json.loads(line) for line in archive]


def test_purge_deletes_only_finished_rows_past_their_period(history, settings):
    settings.OMS_RETENTION_ARCHIVE_DIR = ""

    assert erp_history_purge() == {"inbox": 4, "outbox": 3, "sync_runs": 2}

    assert remaining(InboxMessage, "message_id") == [
        "new-processed-1",
        "new-processed-2",
        "old-failed",
        "old-received",
    ]
    assert sorted(OutboxMessage.objects.values_list("aggregate_id", "status")) == [
        ("ORD-3", "sent"),
        ("ORD-4", "pending"),
        ("ORD-5", "failed"),
        ("ORD-6", "dead"),
    ]
    assert remaining(SyncRun, "counts__n") == [89]
    assert erp_history_purge() == {"inbox": 0, "outbox": 0, "sync_runs": 0}


def test_purge_archives_every_deleted_row_in_batches_one_file_per_table(history, settings, tmp_path):
    _, outbox, _ = history
    settings.OMS_RETENTION_ARCHIVE_DIR = str(tmp_path / "archive")
    settings.OMS_RETENTION_BATCH_SIZE = 2  # 4 inbox rows → 2 batches, 3 outbox rows → 2, runs → 1

    assert erp_history_purge() == {"inbox": 4, "outbox": 3, "sync_runs": 2}

    files = sorted(p.name for p in (tmp_path / "archive").iterdir())
    assert [name.split("-")[0] for name in files] == [
        "erp_sync_inboxmessage",
        "erp_sync_syncrun",
        "oms_outboxmessage",
    ]
    assert all(name.endswith(".jsonl.gz") for name in files)
    archived = {name.split("-")[0]: read_archive(tmp_path / "archive" / name) for name in files}
    assert [row["message_id"] for row in archived["erp_sync_inboxmessage"]] == [
        "old-processed-1",
        "old-processed-2",
        "old-processed-3",
        "old-stale",
    ]
    assert {row["id"] for row in archived["oms_outboxmessage"]} == {
        str(outbox[name].pk) for name in ("old-sent-1", "old-sent-2", "old-sent-3")
    }
    first = next(row for row in archived["oms_outboxmessage"] if row["id"] == str(outbox["old-sent-1"].pk))
    assert first["payload"] == {"n": 0}
    assert first["status"] == "sent"
    assert first["system_id"] == outbox["old-sent-1"].system_id
    assert sorted(row["counts"]["n"] for row in archived["erp_sync_syncrun"]) == [91, 400]

    # Nothing left to delete: no empty archive files either.
    assert erp_history_purge() == {"inbox": 0, "outbox": 0, "sync_runs": 0}
    assert len(list((tmp_path / "archive").iterdir())) == 3


def test_an_archive_that_cannot_be_written_deletes_nothing(history, settings, tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    settings.OMS_RETENTION_ARCHIVE_DIR = str(blocker / "archive")

    with pytest.raises(OSError):
        erp_history_purge()

    assert InboxMessage.objects.count() == 8
    assert OutboxMessage.objects.count() == 7
    assert SyncRun.objects.count() == 3


def test_the_daily_job_runs_once_per_day_slot(history, settings):
    settings.OMS_RETENTION_ARCHIVE_DIR = ""

    first = history_purge.apply().get()
    second = history_purge.apply().get()  # a second beat, or the next hourly offer on the same day

    assert first == {"inbox": 4, "outbox": 3, "sync_runs": 2}
    assert second is None
