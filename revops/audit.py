"""Reading the audit history that django-pghistory's triggers write.

Each tracked model has an append-only event table holding a snapshot of its tracked fields
after every insert and update, with the request's user in the event's context. The
history of a record is the list of differences between consecutive snapshots.
"""

from dataclasses import dataclass
from datetime import datetime

from django.db import models

from .models import User

MERGEABLE = {"account", "contact", "lead"}  # revops.merge.KINDS: their merges show here


@dataclass
class Change:
    at: datetime
    who: User | None
    field: str  # verbose name
    old: str
    new: str
    created: bool = False
    origin: str = ""  # a record merged into this one: the change happened to it
    merged: str = ""  # this entry is the merge of that record into this one


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
    from .models import Merge

    kind = obj._meta.model_name
    merges = (
        list(Merge.objects.filter(kind=kind, survivor_id=obj.pk).select_related("merged_by"))
        if kind in MERGEABLE
        else []
    )
    origins = {merge.merged_id: merge.merged_label for merge in merges}
    events = list(
        event_model.objects.filter(pgh_obj_id__in=[obj.pk, *origins])
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
    last: dict = {}  # each record's previous snapshot
    for event in events:
        context = event.pgh_context.metadata if event.pgh_context else {}
        who = related.get((User, context.get("user")))
        origin = origins.get(event.pgh_obj_id, "")
        previous = last.get(event.pgh_obj_id)
        if previous is None:
            changes.append(
                Change(event.pgh_created_at, who, "", "", "", created=True, origin=origin)
            )
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
                            origin=origin,
                        )
                    )
        last[event.pgh_obj_id] = event
    for merge in merges:
        changes.append(
            Change(merge.merged_at, merge.merged_by, "", "", "", merged=merge.merged_label)
        )
    changes.sort(key=lambda change: change.at)
    changes.reverse()
    return changes[:limit]
