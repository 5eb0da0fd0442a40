"""Merging duplicates: accounts with one domain, contacts of one account with one e-mail,
leads with one e-mail (the flags the lists show), by a manager or an administrator.

`merge()` does it in one transaction: the survivor takes the values chosen field by field,
every record that pointed at the other one points at the survivor (found from the model's
relations, so a relation added later is moved too), and the other record is retired — an
account or contact soft-deleted, a lead deleted. A `Merge` row keeps the other record's
values, so the survivor's history shows both. A move the database refuses (both accounts
have a contact with the same e-mail, both leads wait on a handoff) stops the whole merge
with the reason; nothing is half done.
"""

from __future__ import annotations

from dataclasses import dataclass

import pghistory.models
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Model
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .models import Merge, User


@dataclass(frozen=True)
class Mergeable:
    name: str
    label: str
    fields: tuple[str, ...]  # what the user chooses field by field

    @property
    def model(self) -> type[Model]:
        from crm.models import Account, Contact
        from pipeline.models import Lead

        return {"account": Account, "contact": Contact, "lead": Lead}[self.name]

    def candidates(self, record, user):
        """The other records flagged as the same one, that the user may merge."""
        editable = self.model.objects.editable_by(user).exclude(pk=record.pk)
        if self.name == "account":
            if not record.domain:
                return editable.none()
            return editable.filter(is_deleted=False, domain=record.domain)
        if not record.email:
            return editable.none()
        if self.name == "contact":
            return editable.filter(
                is_deleted=False, account_id=record.account_id, email__iexact=record.email
            )
        return editable.filter(email__iexact=record.email)


KINDS = {
    "account": Mergeable(
        "account", gettext_lazy("account"), ("name", "domain", "industry", "country", "owner")
    ),
    "contact": Mergeable(
        "contact",
        gettext_lazy("contact"),
        ("first_name", "last_name", "email", "phone", "title", "persona"),
    ),
    "lead": Mergeable(
        "lead",
        gettext_lazy("lead"),
        (
            "first_name",
            "last_name",
            "email",
            "company",
            "source",
            "utm_source",
            "utm_medium",
            "utm_campaign",
            "score",
            "owner",
        ),
    ),
}


def may_merge(user: User) -> bool:
    return user.is_authenticated and user.role in (User.Role.MANAGER, User.Role.ADMIN)


def merge(kind: str, survivor_id: int, merged_id: int, take: set[str], by: User) -> Merge:
    """Merge record `merged_id` into `survivor_id`, taking the fields named in `take` from
    the merged record. Raises PermissionDenied or ValidationError; changes nothing then."""
    spec = KINDS[kind]
    model = spec.model
    if not may_merge(by):
        raise PermissionDenied(_("Only managers and administrators merge records."))
    if survivor_id == merged_id:
        raise ValidationError({"merged": _("Choose another record to merge.")})
    unknown = take - set(spec.fields)
    if unknown:
        raise ValidationError(
            {"take": _("These fields cannot be taken: %(f)s") % {"f": ", ".join(sorted(unknown))}}
        )
    with transaction.atomic(), pghistory.context(user=by.pk, url=f"merge:{kind}"):
        editable = model.objects.editable_by(by)
        pair = {
            row.pk: row
            for row in editable.select_for_update(of=("self",)).filter(
                pk__in=[survivor_id, merged_id]
            )
        }
        if len(pair) != 2:
            raise PermissionDenied(_("You may not change both records."))
        survivor, merged = pair[survivor_id], pair[merged_id]
        if not spec.candidates(survivor, by).filter(pk=merged_id).exists():
            raise ValidationError({"merged": _("These records are not flagged as the same one.")})
        snapshot = {
            name: _plain(getattr(merged, model._meta.get_field(name).attname))
            for name in spec.fields
        }
        for name in take:
            field = model._meta.get_field(name)
            setattr(survivor, field.attname, getattr(merged, field.attname))
        moved = _move_related(model, merged, survivor)
        label = str(merged)[:300]
        _retire(kind, merged)
        survivor.save()
        return Merge.objects.create(
            kind=kind,
            survivor_id=survivor.pk,
            merged_id=merged_id,
            merged_label=label,
            snapshot=snapshot,
            chosen=sorted(take),
            moved=moved,
            merged_by=by,
        )


def _plain(value):
    return value if isinstance(value, (str, int, float, bool, type(None))) else str(value)


def _move_related(model, merged, survivor) -> dict:
    """Point every record that refers to `merged` at `survivor`; {relation: count}."""
    moved = {}
    for relation in model._meta.related_objects:
        related = relation.related_model
        if issubclass(related, pghistory.models.Event) or relation.many_to_many:
            continue  # the history stays with the record it describes
        if related._meta.app_label == "pghistory":
            continue
        name = relation.field.name
        rows = related._base_manager.filter(**{name: merged})
        try:
            with transaction.atomic():
                count = rows.update(**{name: survivor})
        except IntegrityError as error:
            raise ValidationError(
                _(
                    "Both records have %(what)s that cannot become one (%(detail)s). "
                    "Merge or remove those first."
                )
                % {
                    "what": related._meta.verbose_name_plural,
                    "detail": str(error).split("\n")[0][:200],
                }
            ) from None
        if count:
            moved[related._meta.label] = moved.get(related._meta.label, 0) + count
    return moved


def _retire(kind: str, merged) -> None:
    if kind == "lead":
        merged.delete()
    else:
        type(merged).objects.filter(pk=merged.pk).update(is_deleted=True, deleted_at=timezone.now())


def merges_into(kind: str, survivor_id: int) -> list[Merge]:
    return list(
        Merge.objects.filter(kind=kind, survivor_id=survivor_id).select_related("merged_by")
    )
