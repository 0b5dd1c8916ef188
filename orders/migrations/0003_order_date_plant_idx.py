"""The orders of a requested date per plant: the console dashboard's loads of a day."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0002_pacing"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="order",
            index=models.Index(fields=["requested_date", "plant"], name="order_date_plant_idx"),
        ),
    ]
