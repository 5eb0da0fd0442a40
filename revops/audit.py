"""Reading the audit history that django-pghistory's triggers write.

Each tracked model has an append-only event table holding a snapshot of its tracked fields
after every insert and update, with the request's user in the event's context. The
history of a record is the list of differences between consecutive snapshots.
"""

from dataclasses import dataclass
from datetime import datetime

from django.db import models

from .models import User


@dataclass
class Change:
    at: datetime
    who: User | None
    field: str  # verbose name
    old: str
    new: str
    created: bool = False


def _display(field: models.Field, value, related: dict) -> str:
    if value in (None, ""):
        return "—"
    if field.is_relation:
        return str(related.get((field.related_model, value), value))
    if field.choices:
        return str(dict(field.flatchoices).get(value, value))
    if isinstance(value, bool):
        from django.utils.translation import gettext

        return gettext("yes") if value else gettext("no")
    return str(value)


def history_for(obj: models.Model, limit: int = 100) -> list[Change]:
    """The record's changes, newest first: who changed which field from what to what."""
    event_model = getattr(obj.__class__, "pgh_event_models", {}).get("change")
    if event_model is None:
        return []
    events = list(
        event_model.objects.filter(pgh_obj_id=obj.pk)
        .select_related("pgh_context")
        .order_by("pgh_id")
    )
    tracked = [
        f
        for f in event_model._meta.fields
        if not f.name.startswith("pgh_") and f.name in {g.name for g in obj._meta.fields}
    ]
    # Everything the changes name, loaded in one query per related model.
    wanted: dict = {}
    user_ids = set()
    for event in events:
        context = event.pgh_context.metadata if event.pgh_context else {}
        if context.get("user"):
            user_ids.add(context["user"])
        for field in tracked:
            if field.is_relation and getattr(event, field.attname) is not None:
                wanted.setdefault(field.related_model, set()).add(getattr(event, field.attname))
    wanted.setdefault(User, set()).update(user_ids)
    related = {}
    for model, ids in wanted.items():
        for item in model._default_manager.filter(pk__in=ids):
            related[(model, item.pk)] = item
    changes: list[Change] = []
    previous = None
    for event in events:
        context = event.pgh_context.metadata if event.pgh_context else {}
        who = related.get((User, context.get("user")))
        if previous is None:
            changes.append(Change(event.pgh_created_at, who, "", "", "", created=True))
        else:
            for field in tracked:
                old, new = getattr(previous, field.attname), getattr(event, field.attname)
                if old != new:
                    changes.append(
                        Change(
                            event.pgh_created_at,
                            who,
                            str(field.verbose_name),
                            _display(field, old, related),
                            _display(field, new, related),
                        )
                    )
        previous = event
    changes.reverse()
    return changes[:limit]
