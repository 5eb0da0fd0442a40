from django.db import migrations

from pipeline.defaults import ensure_default_checklist


def create_checklist(apps, schema_editor):
    ensure_default_checklist(apps.get_model("pipeline", "ChecklistTemplateItem"))


class Migration(migrations.Migration):
    dependencies = [("pipeline", "0004_checklisttemplateitem_handoffchecklistitem_and_more")]

    operations = [migrations.RunPython(create_checklist, migrations.RunPython.noop)]
