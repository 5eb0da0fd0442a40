from django.db import migrations

from pipeline.defaults import ensure_default_pipeline


def create_sales_pipeline(apps, schema_editor):
    ensure_default_pipeline(
        apps.get_model("pipeline", "Pipeline"), apps.get_model("pipeline", "Stage")
    )


class Migration(migrations.Migration):
    dependencies = [("pipeline", "0002_opportunity_lead_converted_opportunity_pipeline_and_more")]

    operations = [migrations.RunPython(create_sales_pipeline, migrations.RunPython.noop)]
