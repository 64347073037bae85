"""The job writer's own SQL, built once per shape from the tables' metadata, for the direct
batches on SQLite (`sqlite_batch`, `?` marks) and PostgreSQL (`postgres_batch`, `$n` marks).

Values are bound through each column type's own bind processor for the dialect, so rows are
stored exactly as SQLAlchemy stores them."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import JSON, Table
from sqlalchemy.engine import Dialect

from registry.jobs.tables import JobRow


@dataclass(frozen=True)
class Transition:
    """A conditional status change of one job: `values` are set only when the job's status is
    one of `allowed_from`. The writer runs the batch's transitions first, each a conditional
    `UPDATE ... WHERE id = ? AND status IN (...) RETURNING id` from a statement compiled once per
    kind (on PostgreSQL one statement for all the batch's transitions of a kind); each unit learns
    from `context.won` whether its own transition won (exactly-once outcomes rest on that)."""

    job_id: str
    allowed_from: tuple[str, ...]
    values: dict[str, Any]


async def one_by_one(
    transition: Callable[[str, tuple[str, ...], dict[str, Any]], Awaitable[bool]],
    transitions: Sequence[Transition | None],
) -> list[bool]:
    """Each transition's outcome, in order, a statement each."""
    return [t is not None and await transition(t.job_id, t.allowed_from, t.values) for t in transitions]


Processor = Callable[[Any], Any] | None
Marks = Literal["qmark", "numeric"]
"""`?` for sqlite3, `$1, $2, ...` for asyncpg."""


def bind_all(processors: list[Processor], columns: tuple[str, ...], values: dict[str, Any]) -> list[Any]:
    return [_bind(p, values[c]) for c, p in zip(columns, processors, strict=True)]


def _bind(processor: Processor, value: Any) -> Any:
    return processor(value) if processor is not None and value is not None else value


def _processors(dialect: Dialect, table: Table, columns: tuple[str, ...]) -> list[Processor]:
    return [table.c[column].type._cached_bind_processor(dialect) for column in columns]


def _mark(marks: Marks, n: int) -> str:
    return "?" if marks == "qmark" else f"${n}"


@functools.cache
def transition_sql(
    dialect: Dialect, marks: Marks, allowed_from: tuple[str, ...], columns: tuple[str, ...]
) -> tuple[str, list[Processor]]:
    """`UPDATE jobs SET <columns> WHERE id = ? AND status IN (<allowed_from>) RETURNING id`,
    bound as `[*values, job_id, *allowed_from]`."""
    table: Table = JobRow.__table__  # type: ignore[assignment]
    assignments = ", ".join(
        f"{table.c[column].name} = {_mark(marks, n)}" for n, column in enumerate(columns, 1)
    )
    job = len(columns) + 1
    statuses = ", ".join(_mark(marks, n) for n in range(job + 1, job + 1 + len(allowed_from)))
    where = f"id = {_mark(marks, job)} AND status IN ({statuses})"
    # Names from the table's own metadata (an unknown key fails in `table.c`), values bound.
    sql = f"UPDATE {table.name} SET {assignments} WHERE {where} RETURNING id"  # noqa: S608
    return sql, _processors(dialect, table, columns)


@functools.cache
def insert_sql(
    dialect: Dialect, marks: Marks, table: Table, columns: tuple[str, ...]
) -> tuple[str, list[Processor]]:
    names = ", ".join(table.c[column].name for column in columns)
    values = ", ".join(_mark(marks, n) for n in range(1, len(columns) + 1))
    sql = f"INSERT INTO {table.name} ({names}) VALUES ({values})"  # noqa: S608 - names from metadata
    return sql, _processors(dialect, table, columns)


@functools.cache
def grouped_transition_sql(
    dialect: Dialect, allowed_from: tuple[str, ...], columns: tuple[str, ...]
) -> tuple[str, list[Processor]] | None:
    """PostgreSQL: the transitions of many jobs to the same columns from the same statuses as one
    `UPDATE jobs SET ... FROM unnest($1::varchar[], $2::<type>[], ...) AS v(id, ...) WHERE jobs.id
    = v.id AND status IN (...) RETURNING jobs.id`, bound as `[ids, *value columns, *allowed_from]`
    (one array per column). None when a column holds JSON (arrays of it are not worth the codec
    questions): those transitions run one by one."""
    table: Table = JobRow.__table__  # type: ignore[assignment]
    quote = dialect.identifier_preparer.quote
    types = []
    for column in columns:
        kind = table.c[column].type
        if isinstance(getattr(kind, "impl", kind), JSON):
            return None
        types.append(kind.compile(dialect=dialect))
    names = [quote(table.c[column].name) for column in columns]
    arrays = ", ".join(f"${n}::{kind}[]" for n, kind in enumerate(["VARCHAR", *types], 1))
    statuses = ", ".join(f"${n}" for n in range(len(columns) + 2, len(columns) + 2 + len(allowed_from)))
    assignments = ", ".join(f"{name} = v.{name}" for name in names)
    sql = (
        f"UPDATE {table.name} SET {assignments} FROM unnest({arrays}) AS v(id, {', '.join(names)}) "  # noqa: S608
        f"WHERE {table.name}.id = v.id AND {table.name}.status IN ({statuses}) RETURNING {table.name}.id"
    )
    return sql, _processors(dialect, table, columns)
