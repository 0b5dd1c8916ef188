"""Inserting many model instances fast: PostgreSQL `COPY` with primary keys reserved ahead.

`bulk_create` builds one parameterised INSERT whose compilation and parameter conversion cost more
than the database's own work once a batch holds thousands of values; `COPY` streams the rows in the
driver's C code. The instances come out as if saved: primary keys set, `_state.adding` false. Other
databases get `bulk_create`. Field defaults, `auto_now(_add)` and foreign keys behave as in `save()`;
database-side defaults (`db_default`) are not supported.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import Model
from django.utils import timezone


def reserve_ids(model: type[Model], count: int) -> list[int]:
    """`count` primary keys from the table's own sequence (PostgreSQL), for rows inserted by COPY."""
    if count <= 0:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [model._meta.db_table, model._meta.pk.column, count],
        )
        return [row[0] for row in cursor.fetchall()]


# Fields whose Python value the driver writes as is (COPY parses the text like an INSERT would).
PLAIN = frozenset(
    {
        "AutoField",
        "BigAutoField",
        "BigIntegerField",
        "BooleanField",
        "CharField",
        "DecimalField",
        "EmailField",
        "FloatField",
        "ForeignKey",
        "IntegerField",
        "PositiveBigIntegerField",
        "PositiveIntegerField",
        "PositiveSmallIntegerField",
        "SlugField",
        "SmallAutoField",
        "SmallIntegerField",
        "TextField",
        "TimeField",
        "URLField",
        "UUIDField",
    }
)


def _value_of(field, db):
    """How to read one column's value off an instance: as `save()` would prepare it."""
    if field.get_internal_type() in PLAIN or (
        field.get_internal_type() in ("DateField", "DateTimeField")
        and not (field.auto_now or field.auto_now_add)
    ):
        return operator.attrgetter(field.attname)
    return lambda obj: field.get_db_prep_save(field.pre_save(obj, add=True), db)


def bulk_insert(objs: Sequence[Model]) -> None:
    """Insert unsaved instances of one model with one statement; sets their primary keys."""
    if not objs:
        return
    model = type(objs[0])
    if connection.vendor != "postgresql":
        model._default_manager.bulk_create(objs)
        return
    meta = model._meta
    missing = [obj for obj in objs if obj.pk is None]
    for obj, pk in zip(missing, reserve_ids(model, len(missing)), strict=True):
        obj.pk = pk
    fields = meta.concrete_fields
    for field in fields:
        if field.is_relation:
            # A related object saved after it was assigned: take its primary key now, as save() does.
            for obj in objs:
                if getattr(obj, field.attname) is None and field.is_cached(obj):
                    related = field.get_cached_value(obj)
                    if related is not None:
                        setattr(obj, field.attname, related.pk)
    db = connections[DEFAULT_DB_ALIAS]  # the wrapper itself: the `connection` proxy costs per access
    values = [_value_of(field, db) for field in fields]
    table = db.ops.quote_name(meta.db_table)
    columns = ", ".join(db.ops.quote_name(field.column) for field in fields)
    with db.cursor() as cursor, cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for obj in objs:
            copy.write_row([value(obj) for value in values])
    for obj in objs:
        obj._state.adding = False
        obj._state.db = connection.alias


def insert_rows(model: type[Model], rows: Sequence[dict]) -> None:
    """Insert plain rows ({field attname: value}; fields left out take their defaults, the primary
    key comes from the database) with one statement: for rows nobody needs as instances afterwards,
    where building model instances would cost more than writing the rows."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        model._default_manager.bulk_create([model(**row) for row in rows])
        return
    db = connections[DEFAULT_DB_ALIAS]
    fields = [field for field in model._meta.concrete_fields if not field.primary_key]
    values = [_row_value(field, db) for field in fields]
    table = db.ops.quote_name(model._meta.db_table)
    columns = ", ".join(db.ops.quote_name(field.column) for field in fields)
    with db.cursor() as cursor, cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([value(row) for value in values])


def _row_value(field, db):
    name = field.attname
    plain = field.get_internal_type() in PLAIN or field.get_internal_type() in ("DateField", "DateTimeField")
    automatic = getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)

    def value(row: dict):
        if name in row:
            raw = row[name]
        elif automatic:
            raw = timezone.now() if field.get_internal_type() == "DateTimeField" else timezone.now().date()
        else:
            raw = field.get_default()
        return raw if plain else field.get_db_prep_save(raw, db)

    return value


_INSERT_SQL: dict[type[Model], tuple[str, list]] = {}


def insert_one(obj: Model) -> None:
    """`obj.save(force_insert=True)` for the hot paths: on PostgreSQL one `INSERT … RETURNING` whose
    SQL is built once per model instead of compiled by the ORM on every call. Like `bulk_create` it
    sends no `pre_save`/`post_save` signals. Elsewhere it is `save(force_insert=True)`."""
    if connection.vendor != "postgresql":
        obj.save(force_insert=True)
        return
    model = type(obj)
    db = connections[DEFAULT_DB_ALIAS]
    if model not in _INSERT_SQL:
        meta = model._meta
        # Database-generated keys are left out; keys with a Python default (UUIDs) are written.
        fields = [
            f
            for f in meta.concrete_fields
            if not (f.primary_key and f.get_internal_type().endswith("AutoField"))
        ]
        columns = ", ".join(db.ops.quote_name(f.column) for f in fields)
        sql = (
            f"INSERT INTO {db.ops.quote_name(meta.db_table)} ({columns}) "  # noqa: S608 - quoted names only
            f"VALUES ({', '.join(['%s'] * len(fields))}) RETURNING {db.ops.quote_name(meta.pk.column)}"
        )
        _INSERT_SQL[model] = (sql, fields)
    sql, fields = _INSERT_SQL[model]
    for field in fields:
        if field.is_relation and getattr(obj, field.attname) is None and field.is_cached(obj):
            related = field.get_cached_value(obj)
            if related is not None:
                setattr(obj, field.attname, related.pk)
    with db.cursor() as cursor:
        cursor.execute(sql, [_value_of(field, db)(obj) for field in fields])
        obj.pk = cursor.fetchone()[0]
    obj._state.adding = False
    obj._state.db = db.alias


def fetch_where(model: type[Model], *, limit: int | None = None, **equal) -> list:
    """Instances whose fields equal the values given (a list means IN; `field__isnull=True/False`),
    with SQL written here instead of compiled by the ORM — a hot-path lookup costs about half.

    Values are prepared by their fields exactly as in a queryset filter, so a malformed value (a bad
    UUID) raises Django's ValidationError before anything reaches the database.
    """
    db = connections[DEFAULT_DB_ALIAS]
    fields = {f.name: f for f in model._meta.concrete_fields} | {
        f.attname: f for f in model._meta.concrete_fields
    }
    conditions, params = [], []
    for name, value in equal.items():
        if name.endswith("__isnull"):
            column = db.ops.quote_name(fields[name.removesuffix("__isnull")].column)
            conditions.append(f"{column} IS NULL" if value else f"{column} IS NOT NULL")
            continue
        field = fields[name]
        column = db.ops.quote_name(field.column)
        prepare = field.target_field if field.is_relation else field
        if isinstance(value, list | tuple | set | frozenset):
            values = list(value)
            if not values:
                return []
            conditions.append(f"{column} IN ({', '.join(['%s'] * len(values))})")
            params += [prepare.get_db_prep_value(v, db, prepared=False) for v in values]
        else:
            conditions.append(f"{column} = %s")
            params.append(prepare.get_db_prep_value(value, db, prepared=False))
    sql = f"SELECT * FROM {db.ops.quote_name(model._meta.db_table)} WHERE {' AND '.join(conditions)}"  # noqa: S608
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return list(model._default_manager.raw(sql, params))
