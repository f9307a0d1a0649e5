"""Search and sort at 1,000,000 customers: pg_trgm, a trigram index on the search expression
(customers.models.search_document, written out here so that the migration never changes), and
(name, id) / (account manager, name, id) indexes for the lists' sorts.

Built CONCURRENTLY (hence not atomic): a deployment with a million customers keeps importing and
serving pages while the indexes build. ANALYZE afterwards gives the planner the expression's
statistics.

pg_trgm ships with PostgreSQL's contrib, which a server may lack (the demo's embedded PostgreSQL
does): there the extension and the trigram index are skipped and search reads the table, which is
fine at a demo's size. The model state holds the index either way.
"""

from django.contrib.postgres.indexes import GinIndex, OpClass
from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models

SEARCH_DOCUMENT = models.Func(
    models.F("name"),
    models.Value(" "),
    models.F("email"),
    models.Value(" "),
    models.F("company"),
    models.Value(" "),
    models.F("external_id"),
    template="UPPER((%(expressions)s))",
    arg_joiner=" || ",
    output_field=models.TextField(),
)
SEARCH_INDEX_SQL = (
    "CREATE INDEX CONCURRENTLY IF NOT EXISTS customer_search_trgm_idx ON customers_customer USING gin "
    "((UPPER((name || ' ' || email || ' ' || company || ' ' || external_id))) gin_trgm_ops)"
)


def create_search_index(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")
        if cursor.fetchone() is None:
            return
        cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        cursor.execute(SEARCH_INDEX_SQL)


def drop_search_index(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("DROP INDEX CONCURRENTLY IF EXISTS customer_search_trgm_idx")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("customers", "0005_import_speed_order_lines"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddIndex(
                    model_name="customer",
                    index=GinIndex(OpClass(SEARCH_DOCUMENT, name="gin_trgm_ops"), name="customer_search_trgm_idx"),
                ),
            ],
            database_operations=[migrations.RunPython(create_search_index, drop_search_index)],
        ),
        AddIndexConcurrently(
            model_name="customer",
            index=models.Index(fields=["name", "id"], name="customer_name_idx"),
        ),
        AddIndexConcurrently(
            model_name="customer",
            index=models.Index(fields=["account_manager", "name", "id"], name="customer_manager_name_idx"),
        ),
        # Statistics of the indexed expression: without them the planner takes every search term
        # for a rare one (100 rows) and reads 40,000 matches of a common word to sort them.
        migrations.RunSQL("ANALYZE customers_customer", reverse_sql=migrations.RunSQL.noop),
    ]
