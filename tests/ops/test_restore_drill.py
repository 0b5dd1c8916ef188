"""The restore drill (docs/operations.md, "Backups and restore"), on a private cluster: an installation
with orders placed through the API and an EPOD with its files is backed up with scripts/oms-backup.sh,
wiped (database dropped, files deleted) and restored with scripts/oms-restore.sh; the restored system
then answers the API journey: the old orders, the EPOD download, the replay of an old Idempotency-Key
(same answer, no new order) and a new order. `make restore-drill` runs it."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from django.utils import timezone

from tests.erp_sync.conftest import BASE_DIR
from tests.fleet.helpers import image_bytes
from tests.ops.stack import ORDER_PATH, Kiosks, order_body
from tests.pgcluster import PG_BIN

SCRIPTS = BASE_DIR / "scripts"


def files_of(root: Path) -> dict[str, str]:
    """Every stored file under `root` → its SHA-256."""
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def script(name: str, stack, *args: str) -> subprocess.CompletedProcess:
    env = {**stack.env, "OMS_MEDIA_ROOT": str(stack.media), "PG_BIN": str(PG_BIN)}
    return subprocess.run(  # noqa: S603
        [str(SCRIPTS / name), *args], env=env, capture_output=True, text=True, check=False
    )


def deliver_with_epod(stack, world: dict, order: dict) -> tuple[str, bytes]:
    """The dispatcher plans the order (services: the console does this); the driver reports the load
    and signs the EPOD through the driver API. The EPOD's id and its PDF, downloaded once."""
    job = stack.world("deliver", order["number"])["job"]
    quantity = order["lines"][0]["quantity"]
    t0 = timezone.now() - timedelta(hours=1)
    with httpx.Client(
        base_url=stack.url, headers={"Authorization": f"Token {world['driver_key']}"}
    ) as driver:
        for minutes, status in enumerate(["loading", "loaded", "en_route", "arrived", "unloading"]):
            at = (t0 + timedelta(minutes=minutes)).isoformat()
            response = driver.post(f"/api/v1/driver/jobs/{job}/events/", json={"status": status, "at": at})
            assert response.status_code == 200, response.text
        response = driver.post(
            f"/api/v1/driver/jobs/{job}/epod/",
            data={
                "received_by": "Site manager",
                "lat": "42.6977",
                "lon": "23.3219",
                "signed_at": (t0 + timedelta(minutes=10)).isoformat(),
                "lines": json.dumps([{"position": 1, "delivered": quantity}]),
            },
            files={"signature": ("sig.png", image_bytes(), "image/png")},
            headers={"Idempotency-Key": "epod-drill-1"},
        )
        assert response.status_code == 201, response.text
        epod = response.json()["id"]
        pdf = driver.get(f"/api/v1/driver/epod/{epod}/pdf/")
        assert (pdf.status_code, pdf.headers["Content-Type"]) == (200, "application/pdf")
        return epod, pdf.content


def journey_reads(stack, world: dict, numbers: list[str], epod: str) -> tuple[dict, bytes]:
    with httpx.Client(base_url=stack.url, headers={"Authorization": f"Token {world['kiosk_key']}"}) as kiosk:
        orders = {}
        for number in numbers:
            response = kiosk.get(f"{ORDER_PATH}{number}/")
            assert response.status_code == 200, response.text
            orders[number] = response.json()
    with httpx.Client(
        base_url=stack.url, headers={"Authorization": f"Token {world['driver_key']}"}
    ) as driver:
        pdf = driver.get(f"/api/v1/driver/epod/{epod}/pdf/")
    assert pdf.status_code == 200
    return orders, pdf.content


@pytest.mark.slow
def test_backup_wipe_restore_and_the_api_journey_on_the_restored_system(pg_cluster, oms_stack, tmp_path):
    server = pg_cluster("primary")
    server.create_database("oms")
    stack = oms_stack(server.url("oms"))
    stack.manage("migrate", "--no-input", "-v", "0")
    world = stack.world("seed")
    stack.start_web(workers=2)

    kiosks = Kiosks(stack.url, world["kiosk_key"])
    kiosks.run([order_body(world, quantity=f"{n}.000") for n in range(1, 6)], threads=2)
    assert kiosks.statuses() == {201: 5}
    placed = {a.key: a.body for a in kiosks.results.values()}
    numbers = sorted(body["number"] for body in placed.values())
    epod, pdf = deliver_with_epod(stack, world, next(iter(placed.values())))
    orders_before, _ = journey_reads(stack, world, numbers, epod)
    files_before = files_of(stack.media)
    assert any(name.startswith("epod/") and name.endswith(".pdf") for name in files_before)
    assert any(name.startswith("epod/") and name.endswith(".png") for name in files_before)

    # Back up (database, then files).
    backup = tmp_path / "backup"
    began = time.monotonic()
    done = script("oms-backup.sh", stack, str(backup))
    backup_seconds = time.monotonic() - began
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in backup.iterdir()) == ["SHA256SUMS", "media.tar.gz", "oms.dump"]

    # Wipe: the processes stop, the database and every file are gone.
    stack.stop()
    server.drop_database("oms")
    shutil.rmtree(stack.media)
    assert server.query("SELECT count(*) FROM pg_database WHERE datname = 'oms'") == [(0,)]

    # Restore refuses a database that is not empty…
    server.create_database("oms")
    server.query("CREATE TABLE public.unrelated (id int)", database="oms")
    refused = script("oms-restore.sh", stack, str(backup))
    assert refused.returncode == 2 and "already has 1 tables" in refused.stderr
    assert server.query("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'", database="oms") == [
        (1,)
    ]
    assert not stack.media.exists()
    # …and a damaged backup, before touching anything.
    server.query("DROP TABLE public.unrelated", database="oms")
    damaged = tmp_path / "damaged"
    shutil.copytree(backup, damaged)
    with open(damaged / "media.tar.gz", "ab") as archive:
        archive.write(b"\0")
    refused = script("oms-restore.sh", stack, str(damaged))
    assert refused.returncode != 0 and "FAILED" in refused.stdout + refused.stderr
    assert server.query("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'", database="oms") == [
        (0,)
    ]

    began = time.monotonic()
    done = script("oms-restore.sh", stack, str(backup))
    restore_seconds = time.monotonic() - began
    assert done.returncode == 0, done.stderr
    assert files_of(stack.media) == files_before
    print(
        f"\nrestore drill: backup {backup_seconds:.1f} s "
        f"({sum(p.stat().st_size for p in backup.iterdir()) / 1024:.0f} KiB), restore {restore_seconds:.1f} s"
    )

    # The restored system: the same orders and EPOD, the old key replayed, a new order placed.
    stack.start_web(workers=2)
    orders_after, pdf_after = journey_reads(stack, world, numbers, epod)
    assert orders_after == orders_before
    assert pdf_after == pdf
    old_key, old_body = next(iter(placed.items()))
    with kiosks.client() as client:
        replay = client.post(
            ORDER_PATH,
            json=order_body(world, quantity=old_body["lines"][0]["quantity"]),
            headers={"Idempotency-Key": old_key},
        )
        assert (replay.status_code, replay.json(), replay.headers["Idempotent-Replayed"]) == (
            201,
            old_body,
            "true",
        )
        assert server.query("SELECT count(*) FROM orders_order", database="oms") == [(5,)]
        new = client.post(ORDER_PATH, json=order_body(world), headers={"Idempotency-Key": "after-restore"})
    assert new.status_code == 201, new.text
    assert new.json()["number"] not in numbers
    assert server.query("SELECT count(*) FROM orders_order", database="oms") == [(6,)]
