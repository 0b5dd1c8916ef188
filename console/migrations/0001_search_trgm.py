"""Trigram indexes for the rep console's unified search (PostgreSQL only; a no-op on SQLite).

The console searches with `icontains`, which PostgreSQL runs as `UPPER(col::text) LIKE UPPER('%q%')`;
GIN trigram indexes on exactly that expression let those scans use an index on 1,000,000 orders.
Built CONCURRENTLY so a live database keeps taking writes while they build.
"""

from django.db import migrations

# (index name, table, column)
TRGM_INDEXES = [
    ("console_order_number_trgm", "orders_order", "number"),
    ("console_order_extref_trgm", "orders_order", "external_ref"),
    ("console_order_erpnum_trgm", "orders_order", "erp_order_number"),
    ("console_customer_name_trgm", "customers_customer", "name"),
    ("console_customer_number_trgm", "customers_customer", "number"),
    ("console_customer_email_trgm", "customers_customer", "email"),
    ("console_customer_phone_trgm", "customers_customer", "phone"),
    ("console_site_name_trgm", "customers_site", "name"),
    ("console_site_address_trgm", "customers_site", "address"),
    ("console_site_city_trgm", "customers_site", "city"),
    ("console_job_ticket_trgm", "fleet_job", "ticket"),
    ("console_extref_id_trgm", "oms_externalref", "external_id"),
]


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, table, column in TRGM_INDEXES:
        schema_editor.execute(
            f'CREATE INDEX CONCURRENTLY IF NOT EXISTS "{name}" ON "{table}" '
            f'USING gin ((UPPER("{column}"::text)) gin_trgm_ops)'
        )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _table, _column in TRGM_INDEXES:
        schema_editor.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{name}"')


class Migration(migrations.Migration):
    atomic = False
    dependencies = [
        ("oms", "0001_initial"),
        ("customers", "0001_initial"),
        ("orders", "0001_initial"),
        ("fleet", "0001_initial"),
    ]
    operations = [migrations.RunPython(forwards, backwards)]
