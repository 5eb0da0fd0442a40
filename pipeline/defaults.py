"""The "Sales" pipeline every organisation starts with (created by a data migration)."""

from decimal import Decimal

STAGES = [
    ("Qualification", 1, "0.1", "open"),
    ("Discovery", 2, "0.2", "open"),
    ("Proposal", 3, "0.5", "open"),
    ("Negotiation", 4, "0.8", "open"),
    ("Closed won", 5, "1", "won"),
    ("Closed lost", 6, "0", "lost"),
]


def ensure_default_pipeline(Pipeline, Stage):
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
    return pipeline


CHECKLIST = [
    "Kickoff call booked",
    "Success criteria agreed",
    "Billing contact and invoice details received",
]


def ensure_default_checklist(ChecklistTemplateItem):
    if not ChecklistTemplateItem.objects.exists():
        for position, label in enumerate(CHECKLIST, start=1):
            ChecklistTemplateItem.objects.create(label=label, position=position)
