from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from fleet.models import PositionReport
from tests import factories as f


@pytest.mark.django_db
def test_compact_keeps_one_point_per_truck_and_bucket_and_is_idempotent(capsys):
    truck = f.TruckFactory()
    base = (timezone.now() - timedelta(days=10)).replace(minute=0, second=0, microsecond=0)
    old = [base + timedelta(seconds=30 * i) for i in range(20)]  # 10 minutes → 2 buckets of 5 minutes
    recent = [timezone.now() - timedelta(minutes=i) for i in range(3)]
    PositionReport.objects.bulk_create(
        PositionReport(truck=truck, at=at, lat=1, lon=2) for at in old + recent
    )
    call_command("positions_compact", "--days", "7")
    assert capsys.readouterr().out.strip() == "positions_compact: compacted 18 points older than 7 days"
    kept = sorted(PositionReport.objects.values_list("at", flat=True))
    assert kept[:2] == [old[0], old[10]]
    assert len(kept) == 5
    call_command("positions_compact", "--days", "7")
    assert capsys.readouterr().out.strip() == "positions_compact: compacted 0 points older than 7 days"
    call_command("positions_compact", "--days", "7", "--delete")
    assert PositionReport.objects.count() == 3
