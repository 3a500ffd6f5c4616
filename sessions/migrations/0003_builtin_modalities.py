from django.db import migrations

from sessions.enums import DEFAULT_MODALITIES


def add_builtin_modalities(apps, schema_editor):
    Modality = apps.get_model("group_sessions", "Modality")
    for slug, name in DEFAULT_MODALITIES:
        Modality.objects.get_or_create(clinic=None, slug=slug, defaults={"name": name})


class Migration(migrations.Migration):
    dependencies = [("group_sessions", "0002_initial")]

    operations = [
        migrations.RunPython(add_builtin_modalities, migrations.RunPython.noop),
    ]
