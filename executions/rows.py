"""Reading and locking execution rows with SQL built once per process: the engine's hottest reads.

Every claim, step record and finish of every run reads and locks an execution row (with its
project, and for a claim its test case). Through the ORM, building those queries (42 to 59 columns,
quoted, aliased, each with its converters, and for the claim the definition of claimable with its
two sub-queries) cost a worker more time than the database took to run them (docs/performance.md,
"Execution engine" and "Claim: ORM vs SQL"). Here the column lists and converters are built once
per process from the models' own metadata, so a new field needs no change here; the claim's
condition is executions.selectors.queue_claimable itself, compiled by the ORM once per process.
Rows still become ordinary model instances through `Model.from_db` (with related objects cached as
select_related caches them), as the ORM would make them.

The execution's table goes by its own name, as in the conditions the ORM compiles; a related
model's by its field name (`project`, `test_case`).
"""

from collections.abc import Collection
from functools import cache

from django.db import connection
from django.db.models import QuerySet

from executions.models import Execution
from executions.selectors import queue_claimable

TABLE = Execution._meta.db_table


def lock_execution(execution_id: int, *, with_project: bool = True) -> Execution:
    """The execution, row-locked (its row only) until the end of the current transaction, with
    its project loaded unless the caller never needs it. Raises Execution.DoesNotExist."""
    columns = _columns(connection.vendor, ("project",) if with_project else ())
    found = _select(columns, f"{columns.table}.{columns.quote('id')} = %s", [execution_id])
    if not found:
        raise Execution.DoesNotExist(f"No execution #{execution_id}.")
    return found[0]


def claim_candidates(
    *, limit: int = 1, refused: Collection[int] = (), refused_parents: Collection[int] = ()
) -> list[Execution]:
    """The best `limit` claimable executions (queue_claimable, highest priority, then oldest),
    outside the `refused` ones and the children of `refused_parents`, with their project and test
    case loaded, each row-locked until the end of the transaction; rows another transaction
    holds are skipped (SKIP LOCKED), never waited on.

    A claim with nothing refused (nearly every claim) reuses the condition compiled for the
    first; a refusal compiles its own (tests/executions/test_rows.py checks both against the
    ORM's reading)."""
    if refused or refused_parents:
        candidates = queue_claimable()
        if refused:
            candidates = candidates.exclude(pk__in=refused)
        if refused_parents:
            candidates = candidates.exclude(parent_id__in=refused_parents)
        where, params = _where(candidates)
    else:
        where, params = _claimable_where(connection.vendor)
    columns = _columns(connection.vendor, ("project", "test_case"))
    table, quote = columns.table, columns.quote
    # The order of the partial index exec_claim_idx: best first, then oldest.
    order = f"{table}.{quote('priority')} DESC, {table}.{quote('queued_at')}, {table}.{quote('id')}"
    return _select(columns, where, params, f"ORDER BY {order} LIMIT {int(limit)}", skip=True)


def claimable_exists(execution_id: int | None = None) -> bool:
    """Whether anything is claimable (queue_claimable), or execution `execution_id` is: asked
    after every finish under a limit and by every claim under one, so asked with the condition
    compiled once rather than built by the ORM each time."""
    where, params = _claimable_where(connection.vendor)
    table, quote = connection.ops.quote_name(TABLE), connection.ops.quote_name
    if execution_id is not None:
        where, params = f"{where} AND {table}.{quote('id')} = %s", (*params, execution_id)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT 1 FROM {table} WHERE {where} LIMIT 1", params)  # noqa: S608
        return cursor.fetchone() is not None


def _select(columns, where: str, params: list, tail: str = "", *, skip=False) -> list[Execution]:
    sql = f"SELECT {columns.select} WHERE {where} {tail} {_row_lock(columns, skip_locked=skip)}"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [columns.instance(row) for row in cursor.fetchall()]


def _row_lock(columns, *, skip_locked: bool) -> str:
    """The clause that locks the selected executions' rows (not the related rows) until the end
    of the transaction; nothing on SQLite, whose IMMEDIATE transactions serialize writers."""
    features = connection.features
    if not features.has_select_for_update:
        return ""
    clause = f"FOR UPDATE OF {columns.table}" if features.has_select_for_update_of else "FOR UPDATE"
    return clause + (" SKIP LOCKED" if skip_locked else "")


@cache
def _claimable_where(vendor: str) -> tuple[str, tuple]:
    # queue_claimable() without a `now` compares with the database's clock, so its SQL and
    # parameters are the same for every claim of the process.
    return _where(queue_claimable())


def _where(queryset: QuerySet[Execution]) -> tuple[str, tuple]:
    """The WHERE condition the ORM compiles for `queryset`, over the execution table alone: a
    condition that needed a join would name a table the claim's FROM does not have."""
    query = queryset.query
    joined = sorted(a for a, uses in query.alias_refcount.items() if uses and a != TABLE)
    if joined:
        raise ValueError(f"A claim's condition must not join {joined}.")
    compiler = query.get_compiler(connection=connection)
    sql, params = compiler.compile(query.where)
    return sql, tuple(params)


class _Columns:
    """The SELECT list, FROM and JOINs for executions with some related models, and how a row
    becomes instances."""

    def __init__(self, related: tuple[str, ...]) -> None:
        self.quote = quote = connection.ops.quote_name
        self.table = quote(TABLE)
        parts = [(TABLE, Execution, None)]
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
                    f"{quote(alias)}.{quote(model._meta.pk.column)} = "
                    f"{self.table}.{quote(fk.column)}"
                )
        self.select = f"{', '.join(select)} FROM {self.table} {' '.join(joins)}"

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
