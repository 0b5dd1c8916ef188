"""Retention: delete old rows in short batches, archiving them first when an archive is configured.

Each batch of at most `OMS_RETENTION_BATCH_SIZE` rows is one transaction, so locks stay short and a
busy table is never locked for the whole purge. Given an archive directory (the ERP history passes
`OMS_RETENTION_ARCHIVE_DIR`), a run writes the rows it deletes to `<dir>/<table>-<UTC time>.jsonl.gz`
(one JSON object per line, one file per table and run). Each batch is appended as a complete gzip member and fsynced *before* its rows are
deleted: a crash can leave rows archived and not yet deleted (the next run archives them again), never
rows deleted and not archived. `gzip.open(path)` reads all members of a file as one stream.
"""

from __future__ import annotations

import gzip
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction


def rows_purge(queryset: models.QuerySet, *, archive_dir: str = "") -> int:
    """Delete the rows of `queryset` batch by batch (archived first, see above); returns how many."""
    model = queryset.model
    pk_name = model._meta.pk.attname
    archive: IO[bytes] | None = None
    deleted = 0
    try:
        while True:
            with transaction.atomic():
                rows = list(queryset.order_by("pk").values()[: settings.OMS_RETENTION_BATCH_SIZE])
                if not rows:
                    break
                if archive_dir:
                    archive = archive or _archive_open(Path(archive_dir), model._meta.db_table)
                    _archive_append(archive, rows)
                # The queryset's conditions again: a row that changed since it was read stays.
                _, per_model = queryset.filter(pk__in=[row[pk_name] for row in rows]).delete()
                deleted += per_model.get(model._meta.label, 0)
    finally:
        if archive is not None:
            archive.close()
    return deleted


def _archive_open(directory: Path, table: str) -> IO[bytes]:
    directory.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    archive = open(directory / f"{table}-{stamp}.jsonl.gz", "ab")  # noqa: SIM115 - closed by rows_purge
    # The new directory entry must survive a crash as well as the data written into it.
    directory_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(directory_fd)
    finally:
        os.close(directory_fd)
    return archive


def _archive_append(archive: IO[bytes], rows: list[dict]) -> None:
    """One gzip member per batch, on disk (fsync) before the caller deletes the batch."""
    lines = "".join(json.dumps(row, cls=DjangoJSONEncoder, ensure_ascii=False) + "\n" for row in rows)
    archive.write(gzip.compress(lines.encode()))
    archive.flush()
    os.fsync(archive.fileno())
