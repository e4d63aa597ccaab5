"""Locking execution rows with SQL built once per process: the engine's hottest reads.

Every step record and finish of every run reads and locks an execution row (with its project).
Through the ORM, building those queries (42 to 59 columns, quoted, aliased, each with its
converters) cost a worker more time than the database took to run them (docs/performance.md,
"Execution engine"). The claim, whose query also carries the definition of claimable, goes through
the ORM (executions.services.claim; "Claim: ORM vs SQL" in the same document). Here the column lists and converters are built
once per process from the models' own metadata, so a new field needs no change here, and each call
only adds its WHERE clause. Rows still become ordinary model instances through `Model.from_db`
(with related objects cached as select_related caches them), as the ORM would make them.

The execution's table is aliased `e`, a related model by its field name (`project`).
"""

from functools import cache

from django.db import connection

from executions.models import Execution


def select_executions(
    where: str, params: list, *, related: tuple[str, ...] = ("project",), tail: str = ""
) -> list[Execution]:
    """Executions matching the SQL condition `where` (with `params`), with the `related` foreign
    keys loaded; `tail` follows the WHERE clause (ORDER BY, LIMIT, row_lock())."""
    columns = _columns(connection.vendor, related)
    sql = f"SELECT {columns.select} WHERE {where} {tail}"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [columns.instance(row) for row in cursor.fetchall()]


def lock_execution(execution_id: int, *, with_project: bool = True) -> Execution:
    """The execution, row-locked (its row only) until the end of the current transaction, with
    its project loaded unless the caller never needs it. Raises Execution.DoesNotExist."""
    found = select_executions(
        "e.id = %s", [execution_id], related=("project",) if with_project else (), tail=row_lock()
    )
    if not found:
        raise Execution.DoesNotExist(f"No execution #{execution_id}.")
    return found[0]


def row_lock() -> str:
    """The clause that locks the selected executions' rows (not the related rows) until the end
    of the transaction; nothing on SQLite, whose IMMEDIATE transactions serialize writers."""
    features = connection.features
    if not features.has_select_for_update:
        return ""
    return "FOR UPDATE OF e" if features.has_select_for_update_of else "FOR UPDATE"


class _Columns:
    """The SELECT list, FROM and JOINs for executions with some related models, and how a row
    becomes instances."""

    def __init__(self, related: tuple[str, ...]) -> None:
        quote = connection.ops.quote_name
        table = Execution._meta.db_table
        parts = [("e", Execution, None)]
        parts += [(name, Execution._meta.get_field(name).related_model, name) for name in related]
        select, joins, self.converters, self.models = [], [], [], []
        for alias, model, fk_name in parts:
            fields = model._meta.concrete_fields
            start = len(select)
            select += [f"{quote(alias)}.{quote(f.column)}" for f in fields]
            self.models.append((model, [f.attname for f in fields], start, len(select), fk_name))
            for offset, field in enumerate(fields):
                # What the ORM applies to each column: the backend's conversions (SQLite's
                # dates and booleans) and the field's own (JSON decoding).
                column = field.get_col(model._meta.db_table)
                found = connection.ops.get_db_converters(column) + column.get_db_converters(
                    connection
                )
                if found:
                    self.converters.append((start + offset, found, column))
            if fk_name:
                fk = Execution._meta.get_field(fk_name)
                joins.append(
                    f"JOIN {quote(model._meta.db_table)} {quote(alias)} ON "
                    f"{quote(alias)}.{quote(model._meta.pk.column)} = e.{quote(fk.column)}"
                )
        self.select = f"{', '.join(select)} FROM {quote(table)} e {' '.join(joins)}"

    def instance(self, row: tuple) -> Execution:
        values = list(row)
        for index, converters, column in self.converters:
            for convert in converters:
                values[index] = convert(values[index], column, connection)
        (model, names, start, stop, _), *related = self.models
        execution = model.from_db(connection.alias, names, values[start:stop])
        for model, names, start, stop, fk_name in related:
            obj = model.from_db(connection.alias, names, values[start:stop])
            Execution._meta.get_field(fk_name).set_cached_value(execution, obj)
        return execution


@cache
def _columns(vendor: str, related: tuple[str, ...]) -> _Columns:
    return _Columns(related)
