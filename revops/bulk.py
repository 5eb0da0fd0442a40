"""Writing many rows at once: COPY into a temporary table, then one INSERT … ON CONFLICT.

COPY moves rows at the speed of the wire (a million in seconds) where `bulk_create` builds
and binds every value in Python first; the INSERT from the loaded table keeps Postgres's
constraints, triggers and generated columns exactly as for any other insert.
"""

from django.db import connection as default_connection
from django.db import transaction


def copy_upsert(
    table: str, columns: tuple, key: tuple, rows, update: tuple | None = None, *, using=None
) -> None:
    """Insert `rows` (tuples in `columns` order) into `table`, overwriting on the unique
    `key` the `update` columns (default: every column but the key). Names are constants of
    the caller, never user input; values travel through COPY.

    `using`: a connection (wrapper) shared from another thread, already in the transaction
    that the rows belong to (an import writing one batch while it reads the next)."""
    names = ", ".join(columns)
    load = f"load_{table}"
    update = update if update is not None else tuple(c for c in columns if c not in key)
    action = (
        "DO UPDATE SET " + ", ".join(f"{c} = EXCLUDED.{c}" for c in update)
        if update
        else "DO NOTHING"
    )
    if using is None:
        with transaction.atomic(), default_connection.cursor() as cursor:
            _copy_then_insert(cursor.cursor, table, names, load, key, action, rows)
    else:
        # Straight on the driver's connection: Django's execute wrappers (pgtrigger's and
        # pghistory's) keep their state per thread, and what they set is already set for
        # this transaction by the thread that shares the connection.
        with using.connection.cursor() as cursor:
            _copy_then_insert(cursor, table, names, load, key, action, rows)


def _copy_then_insert(cursor, table, names, load, key, action, rows):
    cursor.execute(
        f"CREATE TEMPORARY TABLE IF NOT EXISTS {load} ON COMMIT DELETE ROWS AS "  # noqa: S608
        f"SELECT {names} FROM {table} WITH NO DATA"
    )
    with cursor.copy(f"COPY {load} ({names}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
    cursor.execute(
        f"INSERT INTO {table} ({names}) SELECT {names} FROM {load} "  # noqa: S608
        f"ON CONFLICT ({', '.join(key)}) {action}"
    )
    cursor.execute(f"TRUNCATE {load}")
