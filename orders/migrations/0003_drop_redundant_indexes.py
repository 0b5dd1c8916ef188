"""Drop the single-column indexes of `Order.customer` and `Order.sales_point`.

`order_customer_recent_idx` and `order_salespoint_recent_idx` lead with the same columns and serve
every lookup these served; each order insert maintained both for nothing. Only the indexes are
dropped: an `AlterField` would also drop and re-validate the foreign keys, a full scan of the table.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0002_initial"),
        ("orders", "0002_order_loading_started"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="order",
                    name="customer",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="orders",
                        to="customers.customer",
                    ),
                ),
                migrations.AlterField(
                    model_name="order",
                    name="sales_point",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="orders",
                        to="orders.salespoint",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "orders_order_customer_id_0b76f6a4"',
                    reverse_sql='CREATE INDEX "orders_order_customer_id_0b76f6a4" ON "orders_order" ("customer_id")',
                ),
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "orders_order_sales_point_id_416eb38a"',
                    reverse_sql=(
                        'CREATE INDEX "orders_order_sales_point_id_416eb38a" ON "orders_order" ("sales_point_id")'
                    ),
                ),
            ],
        ),
    ]
