"""PostgreSQL only: a trigram index on `Dossier.search_text`.

The queue search (`workflow/queries.py`) matches a name fragment anywhere in the folded
name, `search_text LIKE '%traor%'`, which no B-tree serves: without this index PostgreSQL
reads every open dossier of the service to test it (300 ms for a queue of 390,000 dossiers
in `make bench`; 40 ms with it). SQLite gets nothing: a pilot's queues stay small.

pg_trgm ships with PostgreSQL and is a trusted extension (13+): the database's owner may
create it. The reverse drops the index and leaves the extension, which others may use.
"""

from django.db import migrations

INDEX = "dossiers_dossier_search_trgm"


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {INDEX} ON dossiers_dossier"
        " USING gin (search_text gin_trgm_ops)"
    )


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [
        ("dossiers", "0004_back_office"),
    ]

    operations = [
        migrations.RunPython(create_index, drop_index, elidable=False),
    ]
