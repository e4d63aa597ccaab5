"""Locking an execution row, the statement the engine runs most.

Every step record and every finish of every run locks its execution (and a suite child locks its
suite run too). Through the ORM, building that query (34 columns of the execution and 8 of its
project, quoted, aliased, with their converters) cost a worker more time than PostgreSQL took to
run it (docs/performance.md, "Execution engine"). Here the statement and the column converters are
built once per process from the models' own metadata, so a new field needs no change here; the
rows still become ordinary model instances through `Model.from_db`, as the ORM makes them.
"""

from functools import cache

from django.db import connection

from executions.models import Execution, Project


def lock_execution(execution_id: int, *, with_project: bool = True) -> Execution:
    """The execution, row-locked (FOR UPDATE of its row only) until the end of the current
    transaction, with its project loaded as select_related would. Raises Execution.DoesNotExist."""
    statement = _statement(connection.vendor, with_project)
    with connection.cursor() as cursor:
        cursor.execute(statement.sql, [execution_id])
        row = cursor.fetchone()
    if row is None:
        raise Execution.DoesNotExist(f"No execution #{execution_id}.")
    row = list(row)
    for index, converters, column in statement.converters:
        for convert in converters:
            row[index] = convert(row[index], column, connection)
    split = len(statement.execution_names)
    execution = Execution.from_db(connection.alias, statement.execution_names, row[:split])
    if with_project:
        project = Project.from_db(connection.alias, statement.project_names, row[split:])
        Execution._meta.get_field("project").set_cached_value(execution, project)
    return execution


class _Statement:
    def __init__(self, with_project: bool) -> None:
        quote = connection.ops.quote_name
        execution_fields = Execution._meta.concrete_fields
        project_fields = Project._meta.concrete_fields if with_project else []
        self.execution_names = [f.attname for f in execution_fields]
        self.project_names = [f.attname for f in project_fields]
        columns = [f"e.{quote(f.column)}" for f in execution_fields]
        columns += [f"p.{quote(f.column)}" for f in project_fields]
        sql = f"SELECT {', '.join(columns)} FROM {quote(Execution._meta.db_table)} e"  # noqa: S608 (names from the models)
        if with_project:
            sql += f" JOIN {quote(Project._meta.db_table)} p ON p.id = e.project_id"
        sql += " WHERE e.id = %s"
        if connection.features.has_select_for_update_of:
            sql += " FOR UPDATE OF e"  # the project row stays free for everyone else
        elif connection.features.has_select_for_update:
            sql += " FOR UPDATE"
        self.sql = sql  # SQLite has no row locks: its IMMEDIATE transactions serialize writers
        # What the ORM would apply to each column (the JSON fields' decoding, and on SQLite the
        # backend's own conversions of dates and booleans), looked up once.
        self.converters = []
        for index, (field, table) in enumerate(
            [(f, Execution._meta.db_table) for f in execution_fields]
            + [(f, Project._meta.db_table) for f in project_fields]
        ):
            column = field.get_col(table)
            found = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
            if found:
                self.converters.append((index, found, column))


@cache
def _statement(vendor: str, with_project: bool) -> _Statement:
    return _Statement(with_project)
