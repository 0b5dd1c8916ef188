"""The console dashboard's indexes: the orders of a requested date per plant (with their window) and
the order lines sold in m³, both read without touching the tables."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0002_pacing"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="order",
            index=models.Index(
                fields=["requested_date", "plant", "id", "window_from", "window_to"],
                name="order_date_plant_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="orderline",
            index=models.Index(fields=["id"], condition=models.Q(unit="m3"), name="orderline_m3_idx"),
        ),
    ]
