from django.db import migrations


def create_organisation(apps, schema_editor):
    apps.get_model("revops", "Organisation").objects.get_or_create(id=1)


class Migration(migrations.Migration):
    dependencies = [("revops", "0003_fxrate")]

    operations = [migrations.RunPython(create_organisation, migrations.RunPython.noop)]
