"""When a rep started a call-back (the console dashboard's call-back SLA), and the dashboard's indexes:
deliveries by time and the delivered quantities of loads, both read without touching the tables.

Call-backs started before this migration have no start time on record; they get the best bound
known: the time the call was closed, else the migration's own time ("started no later than").
"""

from django.db import migrations, models
from django.db.models import F
from django.db.models.functions import Coalesce, Now


def backfill_started_at(apps, schema_editor):
    CallRequest = apps.get_model("fleet", "CallRequest")
    CallRequest.objects.filter(status__in=["in_progress", "done"], started_at__isnull=True).update(
        started_at=Coalesce(F("closed_at"), Now())
    )


class Migration(migrations.Migration):
    dependencies = [
        ("fleet", "0003_driver_inbox"),
    ]

    operations = [
        migrations.AddField(
            model_name="callrequest",
            name="started_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(backfill_started_at, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name="callrequest",
            index=models.Index(fields=["created_at"], name="callrequest_created_idx"),
        ),
        migrations.AddIndex(
            model_name="job",
            index=models.Index(
                condition=models.Q(("delivered_at__isnull", False)),
                fields=["delivered_at", "plant", "type", "id"],
                name="job_delivered_at_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="jobline",
            index=models.Index(
                fields=["job", "order_line", "delivered"], name="jobline_job_delivered_idx"
            ),
        ),
    ]
