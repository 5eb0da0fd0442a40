from decimal import Decimal

from django.db import migrations

STAGES = [
    ("Qualification", 1, "0.1", "open"),
    ("Discovery", 2, "0.2", "open"),
    ("Proposal", 3, "0.5", "open"),
    ("Negotiation", 4, "0.8", "open"),
    ("Closed won", 5, "1", "won"),
    ("Closed lost", 6, "0", "lost"),
]


def create_sales_pipeline(apps, schema_editor):
    Pipeline = apps.get_model("pipeline", "Pipeline")
    Stage = apps.get_model("pipeline", "Stage")
    pipeline, _ = Pipeline.objects.get_or_create(name="Sales", defaults={"is_default": True})
    for name, position, probability, outcome in STAGES:
        Stage.objects.get_or_create(
            pipeline=pipeline,
            name=name,
            defaults={
                "position": position,
                "probability": Decimal(probability),
                "outcome": outcome,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("pipeline", "0002_opportunity_lead_converted_opportunity_pipeline_and_more")]

    operations = [migrations.RunPython(create_sales_pipeline, migrations.RunPython.noop)]
