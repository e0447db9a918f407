"""Chain the entries written before the chain existed, in the order they were written."""

from django.db import migrations

from guichet.governance import chain

BATCH = 2000


def chain_entries(apps, schema_editor):
    AuditEntry = apps.get_model("governance", "AuditEntry")
    AuditHead = apps.get_model("governance", "AuditHead")
    db = schema_editor.connection.alias
    seq, prev = 0, chain.GENESIS
    batch = []
    for entry in AuditEntry.objects.using(db).order_by("id").iterator(chunk_size=BATCH):
        seq += 1
        content = chain.canonical_of(entry, seq=seq)
        entry.seq, entry.prev_hash = seq, prev
        entry.hash = prev = chain.entry_hash(content, prev)
        batch.append(entry)
        if len(batch) == BATCH:
            AuditEntry.objects.using(db).bulk_update(batch, ["seq", "prev_hash", "hash"])
            batch = []
    AuditEntry.objects.using(db).bulk_update(batch, ["seq", "prev_hash", "hash"])
    AuditHead.objects.using(db).update_or_create(pk=1, defaults={"seq": seq, "hash": prev})


def unchain_entries(apps, schema_editor):
    apps.get_model("governance", "AuditHead").objects.using(schema_editor.connection.alias).all().delete()


class Migration(migrations.Migration):
    dependencies = [("governance", "0002_audit_chain_fields")]

    operations = [migrations.RunPython(chain_entries, unchain_entries)]
