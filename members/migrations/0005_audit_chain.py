"""Chain the audit log: a sequence number and hashes on every entry, back-filled in pk
order, a chain head, and on PostgreSQL a trigger refusing UPDATE and DELETE of entries.

TRUNCATE is deliberately left alone: the test suite flushes tables with it.
"""

from django.db import migrations, models

from members.audit_chain import CHAINED_FIELDS, GENESIS, entry_digest

BATCH = 1000

CREATE_TRIGGER = """
CREATE FUNCTION members_auditentry_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'The audit log is append-only: % of audit entry % refused.',
        TG_OP, OLD.id;
END;
$$;
CREATE TRIGGER members_auditentry_append_only
    BEFORE UPDATE OR DELETE ON members_auditentry
    FOR EACH ROW EXECUTE FUNCTION members_auditentry_refuse_change();
"""

DROP_TRIGGER = """
DROP TRIGGER IF EXISTS members_auditentry_append_only ON members_auditentry;
DROP FUNCTION IF EXISTS members_auditentry_refuse_change();
"""


def chain_existing_entries(apps, schema_editor):
    """Number and hash the existing entries in pk order (keyset batches, constant memory)
    and set the chain head to the last of them."""
    AuditEntry = apps.get_model("members", "AuditEntry")
    AuditChainHead = apps.get_model("members", "AuditChainHead")
    db = schema_editor.connection.alias
    seq, prev_hash, last_pk = 0, GENESIS, 0
    while True:
        batch = list(
            AuditEntry.objects.using(db).filter(pk__gt=last_pk).order_by("pk")[:BATCH]
        )
        if not batch:
            break
        for entry in batch:
            seq += 1
            entry.seq, entry.prev_hash = seq, prev_hash
            entry.entry_hash = entry_digest(
                {name: getattr(entry, name) for name in CHAINED_FIELDS}
            )
            prev_hash = entry.entry_hash
        AuditEntry.objects.using(db).bulk_update(batch, ["seq", "prev_hash", "entry_hash"])
        last_pk = batch[-1].pk
    AuditChainHead.objects.using(db).create(pk=1, seq=seq, last_hash=prev_hash)


def create_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE_TRIGGER, params=None)


def drop_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_TRIGGER, params=None)


class Migration(migrations.Migration):

    dependencies = [
        ("members", "0004_member_anonymised_at"),
    ]

    operations = [
        migrations.CreateModel(
            name="AuditChainHead",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("seq", models.PositiveBigIntegerField(default=0)),
                ("last_hash", models.CharField(default=GENESIS, max_length=64)),
            ],
            options={
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("id", 1)), name="audit_chain_head_single_row"
                    )
                ],
            },
        ),
        migrations.AddField(
            model_name="auditentry",
            name="seq",
            field=models.PositiveBigIntegerField(
                editable=False, null=True, unique=True, verbose_name="sequence number"
            ),
        ),
        migrations.AddField(
            model_name="auditentry",
            name="prev_hash",
            field=models.CharField(
                default="", editable=False, max_length=64, verbose_name="previous entry's hash"
            ),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="auditentry",
            name="entry_hash",
            field=models.CharField(default="", editable=False, max_length=64, verbose_name="hash"),
            preserve_default=False,
        ),
        migrations.RunPython(chain_existing_entries, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="auditentry",
            name="seq",
            field=models.PositiveBigIntegerField(
                editable=False, unique=True, verbose_name="sequence number"
            ),
        ),
        migrations.RunPython(create_trigger, drop_trigger),
    ]
