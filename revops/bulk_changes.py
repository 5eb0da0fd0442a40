"""Bulk changes from the list pages, and offboarding a seller, with roles.md's rules.

A selection (rows ticked on a page, or every record matching the list's filter) is cut
to what the user may edit, then changed in chunks of `CHUNK` records, each chunk in its
own transaction under the audit context of the user who asked. Up to `INLINE` records are
changed during the request; more run as a `Job` on a Celery worker, resumable from its
checkpoint, with progress on the job's page.

Owner changes are `UPDATE`s: the audit triggers record each record's old and new owner
and the KPI triggers mark both owners dirty, as for any other write. Stage changes go
through `opportunity_move`, one deal at a time, so the ledger and version move as on the
board; a deal changed meanwhile is skipped, never overwritten.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass

import pghistory
from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import CharField, F, Func, Q, Value
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .models import Job, User
from .rules import assignable_owners

CHUNK = 500
INLINE = 200
TAGS = ArrayField(CharField(max_length=40))
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Kind:
    name: str
    label: str
    actions: tuple[str, ...]

    @property
    def model(self):
        from crm.models import Account
        from pipeline.models import Lead, Opportunity

        return {"opportunity": Opportunity, "lead": Lead, "account": Account}[self.name]

    @property
    def filterset(self):
        from crm.filters import AccountFilter
        from pipeline.filters import LeadFilter, OpportunityFilter

        return {
            "opportunity": OpportunityFilter,
            "lead": LeadFilter,
            "account": AccountFilter,
        }[self.name]


KINDS = {
    "opportunity": Kind(
        "opportunity", gettext_lazy("deals"), ("reassign", "stage", "tag", "untag", "export")
    ),
    "lead": Kind("lead", gettext_lazy("leads"), ("reassign", "status", "tag", "untag", "export")),
    "account": Kind("account", gettext_lazy("accounts"), ("reassign", "tag", "untag", "export")),
}
LEAD_STATUSES = ("new", "working", "disqualified")


def clean_tag(value) -> str:
    """A tag as stored: inner spaces collapsed, no comma (tags are written comma-separated),
    at most 40 characters; empty when nothing is left."""
    tag = " ".join(str(value or "").replace(",", " ").split())
    return tag if len(tag) <= 40 else ""


def may_bulk_change(user: User, kind: str) -> bool:
    """Whoever may edit some records of the kind may change them in bulk (roles.md)."""
    return (
        user.is_authenticated
        and user.role
        not in {
            "opportunity": (User.Role.MARKETER, User.Role.EXECUTIVE),
            "lead": (User.Role.CS, User.Role.EXECUTIVE),
            "account": (User.Role.MARKETER, User.Role.EXECUTIVE),
        }[kind]
    )


def selection(user: User, kind: Kind, *, ids=None, query=None, request=None) -> list[int]:
    """The ids of the chosen records the user may change: the ticked ones, or all that
    match the list's filter (`query`, the list page's query string)."""
    editable = kind.model.objects.editable_by(user)
    if ids is not None:
        chosen = editable.filter(pk__in=ids)
    else:
        filterset = kind.filterset(query, queryset=editable, request=request)
        chosen = filterset.qs if filterset.is_valid() else editable.none()
    return list(chosen.order_by("pk").values_list("pk", flat=True))


def check(user: User, kind: Kind, action: str, data: dict) -> dict:
    """The action's parameters, validated against what the user may do; ValidationError
    with field errors otherwise."""
    if action not in kind.actions or action == "export":
        raise ValidationError({"action": _("Choose an action.")})
    if action == "reassign":
        owner_id = str(data.get("owner") or "")
        owner = (
            assignable_owners(user, kind.name).filter(pk=int(owner_id)).first()
            if owner_id.isdigit()
            else None
        )
        if owner is None:
            raise ValidationError({"owner": _("Choose someone you may give these records to.")})
        return {"owner": owner.pk}
    if action in ("tag", "untag"):
        tag = clean_tag(data.get("tag"))
        if not tag:
            raise ValidationError({"tag": _("Write the tag (up to 40 characters, no comma).")})
        return {"tag": tag}
    if action == "stage":
        from pipeline.models import Stage

        stage_id = str(data.get("stage") or "")
        stage = Stage.objects.filter(pk=int(stage_id)).first() if stage_id.isdigit() else None
        if stage is None or stage.is_closed:
            raise ValidationError(
                {"stage": _("Choose an open stage (close deals one by one, with their date).")}
            )
        return {"stage": stage.pk}
    status = data.get("status")
    if status not in LEAD_STATUSES:
        raise ValidationError({"status": _("Choose new, working or disqualified.")})
    reason = (data.get("reason") or "").strip()
    if status == "disqualified" and not reason:
        raise ValidationError({"reason": _("Say why these leads are disqualified.")})
    return {"status": status, "reason": reason}


def apply(user: User, kind: Kind, action: str, params: dict, ids: list[int]) -> dict:
    """Change these records (already cut to what `user` may edit) and say what happened."""
    outcome = {"changed": 0, "skipped": 0}
    for start in range(0, len(ids), CHUNK):
        part = apply_chunk(user, kind, action, params, ids[start : start + CHUNK])
        outcome = {key: outcome[key] + part[key] for key in outcome}
    return outcome


def apply_chunk(user: User, kind: Kind, action: str, params: dict, ids: list[int]) -> dict:
    editable = kind.model.objects.editable_by(user).filter(pk__in=ids)
    with transaction.atomic(), _audited(user, f"bulk:{kind.name}:{action}"):
        if action == "reassign":
            rows = editable.exclude(owner_id=params["owner"])
            updates = {"owner_id": params["owner"]}
            if kind.name == "opportunity":
                updates["version"] = F("version") + 1  # an open edit form now conflicts
            changed = rows.update(**updates)
        elif action == "tag":
            changed = editable.exclude(tags__contains=[params["tag"]]).update(
                tags=Func(
                    F("tags"), Value(params["tag"]), function="array_append", output_field=TAGS
                )
            )
        elif action == "untag":
            changed = editable.filter(tags__contains=[params["tag"]]).update(
                tags=Func(
                    F("tags"), Value(params["tag"]), function="array_remove", output_field=TAGS
                )
            )
        elif action == "status":
            updates = {"status": params["status"]}
            if params["status"] == "disqualified":
                updates["disqualified_reason"] = params["reason"]
            changed = (
                editable.filter(status__in=LEAD_STATUSES)
                .exclude(status=params["status"])
                .update(**updates)
            )
        else:
            changed = _move_deals(user, editable, params["stage"])
    return {"changed": changed, "skipped": len(ids) - changed}


def _move_deals(user: User, deals, stage_id: int) -> int:
    from pipeline.models import Stage
    from pipeline.services import Conflict, opportunity_move

    stage = Stage.objects.get(pk=stage_id)
    moved = 0
    for deal_id, version in (
        deals.filter(status="open", pipeline_id=stage.pipeline_id)
        .exclude(stage_id=stage_id)
        .values_list("pk", "version")
    ):
        with contextlib.suppress(Conflict, ValidationError), transaction.atomic():
            opportunity_move(opportunity_id=deal_id, stage=stage, by=user, expected_version=version)
            moved += 1
    return moved


@contextlib.contextmanager
def _audited(user: User, what: str):
    """Each change's history names the user (inside a request the middleware already
    does; a worker has no request)."""
    with pghistory.context(user=user.pk, url=what):
        yield


# --- Offboarding ---------------------------------------------------------------------------

OFFBOARD_WHAT = ("opportunity", "lead", "account", "task")


def offboard_targets(user: User, leaving: User) -> dict[str, list[int]]:
    """What passes from `leaving` to someone else: their open deals, their leads still
    being worked (not converted or disqualified), their accounts and their open tasks —
    of those, what `user` may edit."""
    from crm.models import Account, Activity
    from pipeline.models import Lead, Opportunity

    return {
        "opportunity": list(
            Opportunity.objects.editable_by(user)
            .filter(owner=leaving, status="open")
            .order_by("pk")
            .values_list("pk", flat=True)
        ),
        "lead": list(
            Lead.objects.editable_by(user)
            .filter(owner=leaving)
            .exclude(status__in=["converted", "disqualified"])
            .order_by("pk")
            .values_list("pk", flat=True)
        ),
        "account": list(
            Account.objects.editable_by(user)
            .filter(owner=leaving)
            .order_by("pk")
            .values_list("pk", flat=True)
        ),
        "task": list(
            Activity.objects.editable_by(user)
            .filter(Q(owner=leaving), kind="task", done=False)
            .order_by("pk")
            .values_list("pk", flat=True)
        ),
    }


def offboard_chunk(user: User, what: str, to: int, ids: list[int]) -> int:
    from crm.models import Activity

    if what == "task":
        with transaction.atomic(), _audited(user, "bulk:offboard:task"):
            return Activity.objects.editable_by(user).filter(pk__in=ids).update(owner_id=to)
    return apply_chunk(user, KINDS[what], "reassign", {"owner": to}, ids)["changed"]


# --- As a job ----------------------------------------------------------------------------


def enqueue(job_id: int) -> None:
    """Hand the job to a worker; with the broker down, beat's sweep hands it later."""
    from .tasks import bulk_change_run

    try:
        bulk_change_run.delay(job_id)
    except Exception:
        logger.warning("bulk job %s not queued (broker down?); the sweep will queue it", job_id)


def job_for(user: User, kind: str, action: str, params: dict, ids: list[int]) -> Job:
    job = Job.objects.create(
        kind=f"bulk:{kind}:{action}",
        created_by=user,
        params={"kind": kind, "action": action, "params": params, "ids": ids},
        total=len(ids),
    )
    transaction.on_commit(lambda: enqueue(job.pk))
    return job


def offboard_job(user: User, leaving: User, to: User, targets: dict) -> Job:
    job = Job.objects.create(
        kind="bulk:offboard",
        created_by=user,
        params={"offboard": True, "from": leaving.pk, "to": to.pk, "targets": targets},
        total=sum(len(ids) for ids in targets.values()),
    )
    transaction.on_commit(lambda: enqueue(job.pk))
    return job


def job_work(ctx) -> dict:
    """Run a bulk job from its checkpoint (the number of records already done)."""
    params = ctx.job.params
    user = User.objects.get(pk=ctx.job.created_by_id)
    done = ctx.checkpoint.get("done", 0)
    outcome = ctx.checkpoint.get("outcome") or {"changed": 0, "skipped": 0}
    if params.get("offboard"):
        batches = [
            (what, ids[start : start + CHUNK])
            for what in OFFBOARD_WHAT
            for ids in [params["targets"].get(what, [])]
            for start in range(0, len(ids), CHUNK)
        ]
    else:
        ids = params["ids"]
        batches = [
            (params["kind"], ids[start : start + CHUNK]) for start in range(0, len(ids), CHUNK)
        ]
    position = 0
    for what, ids in batches:
        if position + len(ids) <= done:
            position += len(ids)
            continue
        if params.get("offboard"):
            changed = offboard_chunk(user, what, params["to"], ids)
            part = {"changed": changed, "skipped": len(ids) - changed}
        else:
            part = apply_chunk(user, KINDS[what], params["action"], params["params"], ids)
        outcome = {key: outcome[key] + part[key] for key in outcome}
        position += len(ids)
        ctx.save_checkpoint({"done": position, "outcome": outcome}, progress=position)
    return outcome
