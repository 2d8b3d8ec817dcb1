"""Trigram indexes for the API's and pages' text search on PostgreSQL.

DRF's SearchFilter asks ``UPPER(column::text) LIKE UPPER('%term%')`` of each search field; without an
index that is a scan of every model and dataset. A GIN index of the same expression with pg_trgm's
operator class answers it from the index. Other databases keep the scan; a PostgreSQL role that may not
create the (trusted) pg_trgm extension keeps it too, with a warning, rather than failing to migrate.
"""

import warnings

from django.db import DatabaseError, migrations, transaction

SEARCHED = {
    "hub_registeredmodel": ("slug", "name", "description"),
    "hub_dataset": ("slug", "name", "description"),
}


def index_name(table: str, column: str) -> str:
    return f"{table}_{column}_trgm"


def create_indexes(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    try:
        with transaction.atomic(using=schema_editor.connection.alias):
            schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except DatabaseError as exc:
        warnings.warn(f"text search stays unindexed: the pg_trgm extension cannot be created ({exc})", stacklevel=1)
        return
    for table, columns in SEARCHED.items():
        for column in columns:
            schema_editor.execute(
                f'CREATE INDEX IF NOT EXISTS "{index_name(table, column)}" ON "{table}" '
                f'USING gin ((UPPER("{column}"::text)) gin_trgm_ops)'
            )


def drop_indexes(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, columns in SEARCHED.items():
        for column in columns:
            schema_editor.execute(f'DROP INDEX IF EXISTS "{index_name(table, column)}"')


class Migration(migrations.Migration):
    dependencies = [("hub", "0005_scores_inputs")]

    operations = [migrations.RunPython(create_indexes, drop_indexes)]
