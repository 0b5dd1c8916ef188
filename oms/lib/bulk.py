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
from dataclasses import dataclass
from typing import Any

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
    if _is_plain(field):
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


def _is_plain(field) -> bool:
    """True when the attribute's Python value goes to the driver as is: no conversion, no
    `auto_now(_add)`."""
    kind = field.get_internal_type()
    return kind in PLAIN or (
        kind in ("DateField", "DateTimeField") and not (field.auto_now or field.auto_now_add)
    )


_SELECT_SQL: dict[tuple[str, type[Model]], tuple[str, dict, list]] = {}


def _select_statement(db, model: type[Model]) -> tuple[str, dict, list]:
    """(SELECT of every concrete column, fields by name and attname, [(index, converters, column)])
    for `model`, built once: the converters are the ones a queryset applies to each column."""
    key = (db.alias, model)
    if key not in _SELECT_SQL:
        meta = model._meta
        fields = meta.concrete_fields
        converters = []
        for index, field in enumerate(fields):
            column = field.get_col(meta.db_table)
            found = db.ops.get_db_converters(column) + column.get_db_converters(db)
            if found:
                converters.append((index, found, column))
        columns = ", ".join(f"t0.{db.ops.quote_name(f.column)}" for f in fields)
        by_name = {f.name: f for f in fields} | {f.attname: f for f in fields} | {"pk": meta.pk}
        _SELECT_SQL[key] = (
            f"SELECT {columns} FROM {db.ops.quote_name(meta.db_table)} t0",  # noqa: S608 - quoted names
            by_name,
            converters,
        )  # noqa: S608
    return _SELECT_SQL[key]


@dataclass(frozen=True)
class _Join:
    """One model read along with the base row: where its columns sit in the row and whose field
    (on which earlier model, by index into the joins; -1 is the base model) it fills."""

    model: type[Model]
    parent: int
    field: Any
    start: int
    stop: int


_JOINED_SQL: dict[tuple[str, type[Model], tuple[str, ...]], tuple[str, list[_Join]]] = {}


def _joined_statement(db, model: type[Model], related: tuple[str, ...]) -> tuple[str, list[_Join]]:
    """`_select_statement` with LEFT JOINs along forward foreign keys ("sales_point__plant"), built once."""
    key = (db.alias, model, related)
    if key not in _JOINED_SQL:
        qn = db.ops.quote_name
        select = _select_statement(db, model)[0]
        head, tables = select.split(" FROM ", 1)
        joins: list[_Join] = []
        by_path: dict[str, int] = {}
        width = len(model._meta.concrete_fields)
        for path in related:
            parent, parent_model, walked = -1, model, ""
            for name in path.split("__"):
                walked = f"{walked}__{name}" if walked else name
                field = parent_model._meta.get_field(name)
                if not (field.many_to_one or field.one_to_one) or not field.concrete:
                    raise ValueError(f"{walked}: only forward foreign keys can be joined")
                if walked not in by_path:
                    target = field.related_model
                    alias = f"t{len(joins) + 1}"
                    on = f"t{parent + 1}" if parent >= 0 else "t0"
                    count = len(target._meta.concrete_fields)
                    head += ", " + ", ".join(f"{alias}.{qn(f.column)}" for f in target._meta.concrete_fields)
                    tables += (
                        f" LEFT JOIN {qn(target._meta.db_table)} {alias} "
                        f"ON {alias}.{qn(field.target_field.column)} = {on}.{qn(field.column)}"
                    )
                    joins.append(_Join(target, parent, field, width, width + count))
                    by_path[walked] = len(joins) - 1
                    width += count
                parent, parent_model = by_path[walked], field.related_model
        _JOINED_SQL[key] = (f"{head} FROM {tables}", joins)
    return _JOINED_SQL[key]


def _instance(db, model: type[Model], row) -> Model:
    """`model` built from its columns as a queryset would: converted, then `from_db`."""
    converters = _select_statement(db, model)[2]
    if converters:
        row = list(row)
        for index, functions, column in converters:
            value = row[index]
            for convert in functions:
                value = convert(value, column, db)
            row[index] = value
    return model.from_db(db.alias, None, row)


def fetch_where(
    model: type[Model], *, limit: int | None = None, related: tuple[str, ...] = (), **equal
) -> list:
    """Instances whose fields equal the values given (a list means IN; `field__isnull=True/False`),
    with SQL written here instead of compiled by the ORM — a hot-path lookup costs about a third.
    `related` names forward foreign keys to read in the same statement, as `select_related` does
    (`"sales_point__plant"`).

    Values are prepared by their fields exactly as in a queryset filter, so a malformed value (a bad
    UUID) raises Django's ValidationError before anything reaches the database; the columns go through
    the same converters as in a queryset (JSON, booleans and decimals on SQLite).
    """
    db = connections[DEFAULT_DB_ALIAS]
    select, fields, _converters = _select_statement(db, model)
    joins: list[_Join] = []
    if related:
        select, joins = _joined_statement(db, model, tuple(related))
    conditions, params = [], []
    for name, value in equal.items():
        if name.endswith("__isnull"):
            column = "t0." + db.ops.quote_name(fields[name.removesuffix("__isnull")].column)
            conditions.append(f"{column} IS NULL" if value else f"{column} IS NOT NULL")
            continue
        field = fields[name]
        column = "t0." + db.ops.quote_name(field.column)
        prepare = field.target_field if field.is_relation else field
        if isinstance(value, list | tuple | set | frozenset):
            values = [v.pk if isinstance(v, Model) else v for v in value]
            if not values:
                return []
            conditions.append(f"{column} IN ({', '.join(['%s'] * len(values))})")
            params += [prepare.get_db_prep_value(v, db, prepared=False) for v in values]
        else:
            conditions.append(f"{column} = %s")
            value = value.pk if isinstance(value, Model) else value  # a related instance, as in a filter
            params.append(prepare.get_db_prep_value(value, db, prepared=False))
    sql = f"{select} WHERE {' AND '.join(conditions)}"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    with db.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    width = len(model._meta.concrete_fields)
    found = []
    for row in rows:
        obj = _instance(db, model, row[:width])
        made: list[Model | None] = []
        for join in joins:
            owner = obj if join.parent < 0 else made[join.parent]
            if owner is None or getattr(owner, join.field.attname) is None:
                related_obj = None
            else:
                related_obj = _instance(db, join.model, row[join.start : join.stop])
            if owner is not None:
                join.field.set_cached_value(owner, related_obj)
            made.append(related_obj)
        found.append(obj)
    return found
