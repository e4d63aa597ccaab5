"""Writing many rows at once: COPY on PostgreSQL, bulk_create elsewhere.

A JUnit import writes three rows per testcase (its result, its case's stats, maybe a new case).
Through bulk_create every value of every row passes Django's field preparation and psycopg's
Python array dumper: about 70 % of an import's time (bench/ingest.py). COPY sends the rows as
one stream that PostgreSQL parses itself. Values are taken as given (the caller builds them like
model attributes); columns left out get the model field's default, computed once per call, so a
field added to a model later is filled the way Django would fill it.
"""

import json

from django.db import connection, transaction
from django.db.models import JSONField, Model
from django.utils import timezone

_MISSING = object()
COPY_MIN_ROWS = 100


def insert_rows(
    model: type[Model],
    rows: list[dict],
    *,
    conflict: tuple[str, ...] = (),
    update: tuple[str, ...] = (),
) -> None:
    """INSERT rows (dicts of attname -> value); no ids come back.

    With `conflict` (the unique columns): rows that already exist are skipped, or, when `update`
    names columns, those columns are overwritten (an upsert). Call inside a transaction.
    """
    if not rows:
        return
    # COPY pays off for batches; for a few rows (one finished execution's case stats) its staging
    # table costs more than it saves (a temp table per transaction: ~20 ms of commit).
    if connection.vendor != "postgresql" or len(rows) < COPY_MIN_ROWS:
        objects = [model(**row) for row in rows]
        if update:
            model.objects.bulk_create(
                objects, update_conflicts=True, unique_fields=conflict, update_fields=update
            )
        else:
            model.objects.bulk_create(objects, ignore_conflicts=bool(conflict))
        return
    fields = [f for f in model._meta.concrete_fields if not f.primary_key or f.remote_field]
    # Every row names the same columns (the callers build them so): the others are constants.
    given = [f for f in fields if f.attname in rows[0]]
    rest = [f for f in fields if f.attname not in rows[0]]
    constant = [_copy_value(f, _default(f)) for f in rest]
    fields = given + rest
    attnames = [f.attname for f in given]
    json_at = [(i, f.encoder) for i, f in enumerate(given) if isinstance(f, JSONField)]
    # Identifiers below come from model metadata only; values travel in the COPY stream.
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    names = ", ".join(quote(f.column) for f in fields)
    with transaction.atomic(), connection.cursor() as cursor:
        target = table
        if conflict:
            # COPY cannot skip or merge conflicting rows: stage them, then INSERT ... SELECT.
            target = quote(f"_ib_stage_{model._meta.db_table}")
            stage = f"CREATE TEMP TABLE IF NOT EXISTS {target} ON COMMIT DROP AS "
            cursor.execute(stage + f"SELECT {names} FROM {table} WITH NO DATA")  # noqa: S608
            cursor.execute(f"TRUNCATE {target}")
        # The raw psycopg cursor: Django's error wrapper is put back by hand, so that a unique
        # violation is an IntegrityError here too (callers catch it to handle a race).
        with (
            connection.wrap_database_errors,
            cursor.cursor.copy(f"COPY {target} ({names}) FROM STDIN") as copy,
        ):
            for row in rows:
                values = [row[name] for name in attnames]
                for i, encoder in json_at:  # JSON goes as its text; PostgreSQL parses it
                    values[i] = json.dumps(values[i], cls=encoder)
                copy.write_row(values + constant)
        if conflict:
            keys = ", ".join(quote(model._meta.get_field(c).column) for c in conflict)
            action = "NOTHING"
            if update:
                columns = [quote(model._meta.get_field(c).column) for c in update]
                action = "UPDATE SET " + ", ".join(f"{c} = EXCLUDED.{c}" for c in columns)
            cursor.execute(
                f"INSERT INTO {table} ({names}) SELECT {names} FROM {target} "  # noqa: S608
                f"ON CONFLICT ({keys}) DO {action}"
            )


def _default(field):
    if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
        return timezone.now()
    return field.get_default()  # the model's default, "" for text, None for the nullable


def _copy_value(field, value):
    return json.dumps(value, cls=field.encoder) if isinstance(field, JSONField) else value


def select_any(
    model: type[Model],
    column: str,
    values: list,
    fields: list[str],
    *,
    where: dict | None = None,
    lock: bool = False,
) -> list[dict]:
    """Rows of `model` whose `column` is one of `values` (and whose other columns equal `where`),
    as dicts of `fields` (attnames); `lock` takes them FOR UPDATE.

    On PostgreSQL one array parameter (`= ANY(%s)`) instead of an IN list of thousands of
    placeholders, which Django and psycopg would each process one by one."""
    where = where or {}
    if connection.vendor != "postgresql":
        queryset = model.objects.filter(**where, **{f"{column}__in": values})
        return list((queryset.select_for_update() if lock else queryset).values(*fields))
    meta = model._meta
    quote = connection.ops.quote_name
    names = ", ".join(quote(meta.get_field(f).column) for f in fields)
    conditions = [f"{quote(meta.get_field(column).column)} = ANY(%s)"]
    conditions += [f"{quote(meta.get_field(name).column)} = %s" for name in where]
    sql = f"SELECT {names} FROM {quote(meta.db_table)} WHERE {' AND '.join(conditions)}"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql + (" FOR UPDATE" if lock else ""), [list(values), *where.values()])
        rows = [dict(zip(fields, row, strict=True)) for row in cursor.fetchall()]
    # Django has psycopg hand jsonb over as text (JSONField decodes it): do the same here.
    for name in fields:
        field = meta.get_field(name)
        if isinstance(field, JSONField):
            for row in rows:
                if isinstance(row[name], str):
                    row[name] = json.loads(row[name], cls=field.decoder)
    return rows
