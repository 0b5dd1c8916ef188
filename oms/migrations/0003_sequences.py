from django.db import migrations

from oms.lib.sequences import create_sequences, drop_sequences


def forwards(apps, schema_editor):
    create_sequences(schema_editor)


def backwards(apps, schema_editor):
    drop_sequences(schema_editor)


class Migration(migrations.Migration):
    dependencies = [("oms", "0002_roles")]
    operations = [migrations.RunPython(forwards, backwards)]
