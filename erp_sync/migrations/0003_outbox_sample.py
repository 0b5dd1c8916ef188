"""The outbox backlog sampled every 5 minutes, for the console dashboard."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("erp_sync", "0002_order_drift"),
    ]

    operations = [
        migrations.CreateModel(
            name="OutboxSample",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("at", models.DateTimeField(unique=True)),
                ("waiting", models.PositiveIntegerField()),
                ("oldest_created_at", models.DateTimeField(blank=True, null=True)),
            ],
            options={
                "verbose_name": "outbox sample",
                "verbose_name_plural": "outbox samples",
                "ordering": ["at"],
            },
        ),
    ]
