"""Every entry has its place; on PostgreSQL, UPDATE and DELETE of an entry are refused.

The trigger fires for every role, the table's owner and superusers included; only
`ALTER TABLE … DISABLE TRIGGER` (owner or superuser) lifts it, which is what an attacker
with those rights would do, and what `audit_verify` then detects. TRUNCATE is left to
permissions (docs/governance.md): the test suite's flush uses it.
"""

from django.db import migrations, models

INSTALL = """
CREATE OR REPLACE FUNCTION governance_auditentry_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'governance_auditentry is append-only: % refused', TG_OP
        USING HINT = 'Audit entries are never edited or deleted (docs/governance.md).';
END
$$;
CREATE TRIGGER governance_auditentry_append_only
    BEFORE UPDATE OR DELETE ON governance_auditentry
    FOR EACH ROW EXECUTE FUNCTION governance_auditentry_append_only();
"""

REMOVE = """
DROP TRIGGER IF EXISTS governance_auditentry_append_only ON governance_auditentry;
DROP FUNCTION IF EXISTS governance_auditentry_append_only();
"""


def install(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(INSTALL, params=None)


def remove(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(REMOVE, params=None)


class Migration(migrations.Migration):
    dependencies = [("governance", "0003_chain_existing_entries")]

    operations = [
        migrations.AlterField(
            model_name="auditentry",
            name="seq",
            field=models.BigIntegerField(unique=True),
        ),
        migrations.RunPython(install, remove),
    ]
