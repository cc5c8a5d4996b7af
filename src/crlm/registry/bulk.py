"""Bulk row writes on PostgreSQL: ``COPY … FROM STDIN`` instead of an INSERT per row.

An ``executemany`` of INSERTs costs the driver a statement per row (bind, send, parse the
reply) even when pipelined; ``COPY`` streams the rows in one command. Values go through the
same SQLAlchemy bind processors and psycopg dumpers as an INSERT, so the stored rows are the
same, and the table's triggers and constraints apply as they do to an INSERT (COPY fires
statement-level triggers with their transition tables, as the audit chain's anchor needs).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

Columns = dict[str, Sequence[Any]]  # column name → its value in each row


def uses_copy(session: Session) -> bool:
    """True when the session's database takes bulk rows by COPY (PostgreSQL through psycopg)."""
    dialect = session.connection().dialect
    return dialect.name == "postgresql" and dialect.driver == "psycopg"


def copy_rows(session: Session, table: sa.Table, columns: Columns) -> None:
    """Append rows (python values by column name) to ``table`` with one ``COPY``, in the
    session's transaction. Only for PostgreSQL through psycopg (:func:`uses_copy`)."""
    import psycopg
    from psycopg import sql

    keys = list(columns)
    n_rows = len(columns[keys[0]]) if keys else 0
    if any(len(values) != n_rows for values in columns.values()):
        raise ValueError("columns of different lengths")
    if not n_rows:
        return
    if session.autoflush:  # as session.execute would: pending objects are written first
        session.flush()
    conn = session.connection()
    dialect = conn.dialect
    ordered: list[Sequence[Any]] = []
    for name in keys:
        process = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        values = columns[name]
        ordered.append(values if process is None else
                       [None if v is None else process(v) for v in values])
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table.name), sql.SQL(", ").join(map(sql.Identifier, keys)))
    raw = conn.connection.driver_connection
    try:
        with raw.cursor() as cursor, cursor.copy(statement) as copy:  # type: ignore[union-attr]
            write = copy.write_row
            for row in zip(*ordered, strict=True):
                write(row)
    except psycopg.Error as exc:  # raised as SQLAlchemy raises it for an INSERT
        text = statement.as_string(raw)
        raise sa.exc.DBAPIError.instance(text, None, exc, psycopg.Error,
                                         dialect=dialect) from exc  # type: ignore[misc]


def next_ids(session: Session, table: sa.Table, n: int) -> list[int]:
    """``n`` new values of the serial ``id`` of ``table`` from its sequence, ascending (as an
    INSERT of ``n`` rows would draw them)."""
    rows = session.execute(
        sa.text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)"),
        {"table": table.name, "n": n})
    return sorted(int(r[0]) for r in rows)
