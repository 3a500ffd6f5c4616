# Clinical free text is stored encrypted (groupcare.fields.EncryptedTextField) from here on.

from django.db import migrations

import groupcare.fields
from groupcare import crypto
from groupcare.fields import store_values, stored_values

BATCH_SIZE = 500

# The fields this migration turns into EncryptedTextField, by model.
FIELDS = {
    "attendancechange": ["reason"],
    "enrolment": ["leave_note", "screening_override_reason"],
    "groupsession": ["cancel_reason"],
    "screening": [
        "acute_illness_note",
        "anxiety_or_trauma_note",
        "disruptive_behaviour_note",
        "individual_needs_note",
        "support_plan",
    ],
    "stagetransition": ["note"],
}


def _convert(apps, convert):
    for model_name, field_names in FIELDS.items():
        model = apps.get_model("group_sessions", model_name)
        for field_name in field_names:
            for page in stored_values(model.objects.all(), field_name, batch_size=BATCH_SIZE):
                changed = {}
                for pk, stored in page:
                    new = convert(stored, f"{model.__name__}.{field_name} #{pk}")
                    if new != stored:
                        changed[pk] = new
                store_values(model, field_name, changed, batch_size=BATCH_SIZE)


def encrypt_existing(apps, schema_editor):
    # Idempotent: a value that is already a token of a configured key is left as it is.
    _convert(
        apps, lambda text, what: text if crypto.is_encrypted(text) else crypto.encrypt(text)
    )


def decrypt_existing(apps, schema_editor):
    _convert(apps, lambda token, what: crypto.decrypt(token, what=what))


class Migration(migrations.Migration):

    dependencies = [
        ('group_sessions', '0006_notifications_feeds_summaries'),
    ]

    operations = [
        migrations.AlterField(
            model_name='attendancechange',
            name='reason',
            field=groupcare.fields.EncryptedTextField(blank=True),
        ),
        migrations.AlterField(
            model_name='enrolment',
            name='leave_note',
            field=groupcare.fields.EncryptedTextField(blank=True),
        ),
        migrations.AlterField(
            model_name='enrolment',
            name='screening_override_reason',
            field=groupcare.fields.EncryptedTextField(blank=True),
        ),
        migrations.AlterField(
            model_name='groupsession',
            name='cancel_reason',
            field=groupcare.fields.EncryptedTextField(blank=True, max_length=300),
        ),
        migrations.AlterField(
            model_name='screening',
            name='acute_illness_note',
            field=groupcare.fields.EncryptedTextField(blank=True),
        ),
        migrations.AlterField(
            model_name='screening',
            name='anxiety_or_trauma_note',
            field=groupcare.fields.EncryptedTextField(blank=True),
        ),
        migrations.AlterField(
            model_name='screening',
            name='disruptive_behaviour_note',
            field=groupcare.fields.EncryptedTextField(blank=True),
        ),
        migrations.AlterField(
            model_name='screening',
            name='individual_needs_note',
            field=groupcare.fields.EncryptedTextField(blank=True),
        ),
        migrations.AlterField(
            model_name='screening',
            name='support_plan',
            field=groupcare.fields.EncryptedTextField(blank=True),
        ),
        migrations.AlterField(
            model_name='stagetransition',
            name='note',
            field=groupcare.fields.EncryptedTextField(blank=True),
        ),
        # Reversed, the values are decrypted first, then the columns go back: varchar(300)
        # for the cancel reason takes the clear text again.
        migrations.RunPython(encrypt_existing, decrypt_existing, elidable=False),
    ]
