"""`Job.delivered_m3`: each load's delivered m³, filled from its lines, for the console dashboard."""

from decimal import Decimal

from django.db import migrations, models
from django.db.models import Exists, OuterRef, Subquery, Sum


def fill_delivered_m3(apps, schema_editor):
    """Every load with a line sold in m³ gets the sum of those lines' delivered quantities."""
    Job = apps.get_model("fleet", "Job")
    JobLine = apps.get_model("fleet", "JobLine")
    m3_lines = JobLine.objects.filter(job=OuterRef("pk"), order_line__unit="m3")
    total = m3_lines.order_by().values("job").annotate(total=Sum("delivered")).values("total")
    Job.objects.filter(Exists(m3_lines)).update(delivered_m3=Subquery(total))


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0001_initial"),
        ("fleet", "0004_callrequest_started_at"),
        ("orders", "0003_order_date_plant_idx"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="job", name="job_delivered_at_idx"),
        migrations.RemoveIndex(model_name="jobline", name="jobline_job_delivered_idx"),
        migrations.AddField(
            model_name="job",
            name="delivered_m3",
            field=models.DecimalField(decimal_places=3, default=Decimal("0.000"), max_digits=14),
        ),
        migrations.RunPython(fill_delivered_m3, migrations.RunPython.noop, elidable=True),
        migrations.AddIndex(
            model_name="job",
            index=models.Index(
                condition=models.Q(("delivered_at__isnull", False)),
                fields=["delivered_at", "plant", "type", "delivered_m3"],
                name="job_delivered_at_idx",
            ),
        ),
    ]
