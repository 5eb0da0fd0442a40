"""Writes about leads and handoffs that span several records, shared by pages and API."""

import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import (
    CharField,
    DateTimeField,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Value,
)
from django.db.models.functions import Cast, Concat, Greatest
from django.utils import timezone
from django.utils.translation import gettext as _

from revops.models import Notification, Organisation, Team, User
from revops.money import currency_check
from revops.notifications import Notice, notify, notify_each, team_members

from .models import Handoff, Lead

log = logging.getLogger(__name__)


def add_business_days(start: datetime, days: int, organisation: Organisation) -> datetime:
    """`start` moved forward by `days` working days of the organisation's week, at the
    same local time of day (a handoff at Wednesday 15:00 with two days and a Sat/Sun
    weekend is due Friday 15:00; on Thursday, due the next Monday)."""
    local = start.astimezone(ZoneInfo(organisation.timezone))
    weekend = set(organisation.weekend_days or [])
    if len(weekend) >= 7:
        weekend = set()
    remaining = days
    while remaining > 0:
        local += timedelta(days=1)
        if local.weekday() not in weekend:
            remaining -= 1
    return local


def handoff_receivers(team: Team):
    """Who a handoff to `team` may name: a sales team's reps and managers, a customer
    success team's CS managers."""
    roles = [User.Role.CS] if team.kind == Team.Kind.CS else [User.Role.REP, User.Role.MANAGER]
    return User.objects.filter(team=team, is_active=True, role__in=roles)


@transaction.atomic
def lead_handoff(
    *, lead: Lead, by: User, to_team: Team, to_user: User | None = None, note: str = ""
) -> Handoff:
    """Marketing marks the lead MQL and hands it to a sales team, or one rep of it."""
    lead = Lead.objects.select_for_update().get(pk=lead.pk)
    errors = {}
    if lead.status in (Lead.Status.CONVERTED, Lead.Status.DISQUALIFIED, Lead.Status.SQL) or (
        lead.accepted_on or lead.converted_on
    ):
        errors["lead"] = _("A lead that is %(status)s cannot be handed off.") % {
            "status": lead.get_status_display().lower()
        }
    if to_team.kind != Team.Kind.SALES:
        errors["to_team"] = _("Leads are handed to a sales team.")
    if to_user is not None and not handoff_receivers(to_team).filter(pk=to_user.pk).exists():
        errors["to_user"] = _("Choose a rep or manager of %(team)s.") % {"team": to_team.name}
    if lead.handoffs.filter(status=Handoff.Status.PENDING).exists():
        errors["lead"] = _("This lead is already waiting for sales to accept it.")
    if errors:
        raise ValidationError(errors)
    now = timezone.now()
    organisation = Organisation.get()
    handoff = Handoff.objects.create(
        kind=Handoff.Kind.LEAD_TO_SALES,
        lead=lead,
        from_user=by,
        to_team=to_team,
        to_user=to_user,
        note=note,
        created_at=now,
        sla_due_at=add_business_days(now, organisation.handoff_sla_business_days, organisation),
    )
    today = timezone.localdate()
    lead.status = Lead.Status.MQL
    lead.handed_off_on = max(today, lead.created_on)
    lead.save(update_fields=["status", "handed_off_on"])
    handoff.lead = lead
    notify_handoff_addressed(handoff)
    return handoff


def handoff_addressees(handoff: Handoff) -> list[User]:
    """Who must act on a pending handoff: the person it names, else its team's receivers."""
    if handoff.to_user_id:
        return [handoff.to_user]
    return list(handoff_receivers(handoff.to_team))


def notify_handoff_addressed(handoff: Handoff) -> None:
    notify(
        handoff_addressees(handoff),
        Notification.Kind.HANDOFF_ADDRESSED,
        f"handoff:{handoff.pk}",
        url=handoff.get_absolute_url(),
        params={
            "by": str(handoff.from_user) if handoff.from_user_id else "",
            "subject": str(handoff.subject),
            "due": handoff.sla_due_at.isoformat(),
        },
        exclude=handoff.from_user,
    )


def handoff_sla_notify(now=None) -> int:
    """Tell those who must act on pending handoffs whose SLA is about to end (the last
    quarter of the window, or its last hour) and, with their team's managers, those
    whose SLA has ended. Each handoff once per state; run every minute by beat."""
    now = now or timezone.now()

    def told_of(kind):
        return Exists(
            Notification.objects.filter(
                kind=kind, event=Concat(Value("handoff:"), Cast(OuterRef("pk"), CharField()))
            )
        )

    # The last quarter of the window, or its last hour (Handoff.sla_state), not yet told.
    last_stretch = Greatest(
        ExpressionWrapper((F("sla_due_at") - F("created_at")) / 4, output_field=DurationField()),
        Value(timedelta(hours=1)),
    )
    pending = (
        Handoff.objects.filter(status=Handoff.Status.PENDING)
        .alias(last_stretch=last_stretch)
        .filter(
            sla_due_at__lte=ExpressionWrapper(
                Value(now) + F("last_stretch"), output_field=DateTimeField()
            )
        )
        .annotate(
            due_soon_told=told_of(Notification.Kind.SLA_DUE_SOON),
            breach_told=told_of(Notification.Kind.SLA_BREACHED),
        )
        .filter(breach_told=False)
        .select_related("lead", "opportunity", "to_team", "to_user", "from_user")
        .order_by("sla_due_at")
    )
    notices = {Notification.Kind.SLA_DUE_SOON: [], Notification.Kind.SLA_BREACHED: []}
    teams: dict = {}  # each receiving team's receivers and managers, read once per sweep
    for handoff in pending:
        state = handoff.sla_state(now)
        if state == Handoff.Sla.ON_TIME or (
            state == Handoff.Sla.DUE_SOON and handoff.due_soon_told
        ):
            continue
        if handoff.to_team_id not in teams:
            teams[handoff.to_team_id] = (
                list(handoff_receivers(handoff.to_team)),
                team_members(handoff.to_team_id, User.Role.MANAGER),
            )
        receivers, managers = teams[handoff.to_team_id]
        breached = state == Handoff.Sla.BREACHED
        recipients = [handoff.to_user] if handoff.to_user_id else receivers
        notices[
            Notification.Kind.SLA_BREACHED if breached else Notification.Kind.SLA_DUE_SOON
        ].append(
            Notice(
                recipients + managers if breached else recipients,
                f"handoff:{handoff.pk}",
                url=handoff.get_absolute_url(),
                params={"subject": str(handoff.subject), "due": handoff.sla_due_at.isoformat()},
            )
        )
    return sum(notify_each(kind, found) for kind, found in notices.items())


def _decidable(handoff: Handoff, by: User) -> Handoff:
    try:
        return Handoff.objects.decidable_by(by).select_for_update(of=("self",)).get(pk=handoff.pk)
    except Handoff.DoesNotExist:
        current = Handoff.objects.filter(pk=handoff.pk).values_list("status", flat=True).first()
        if current and current != Handoff.Status.PENDING:
            raise ValidationError(
                {"handoff": _("This handoff was already %(status)s.") % {"status": current}}
            ) from None
        raise PermissionDenied(_("This handoff is not addressed to you or your team.")) from None


@transaction.atomic
def handoff_accept(
    *, handoff: Handoff, by: User, assignee: User | None = None, subscription: dict | None = None
) -> Handoff:
    """The receiving team accepts. A lead becomes SQL, owned by the accepting rep (or the
    rep a manager names). A won deal's account passes to the CS manager, whose draft
    subscription (possibly edited: `subscription` = {mrr, start_on, product}) is confirmed."""
    handoff = _decidable(handoff, by)
    if by.role in (User.Role.REP, User.Role.CS):
        assignee = by
    elif assignee is None:
        assignee = handoff.to_user if handoff.to_user else by
    receivers = handoff_receivers(handoff.to_team)
    if handoff.to_user_id:
        receivers = receivers | User.objects.filter(pk=handoff.to_user_id)
    if not receivers.filter(pk=assignee.pk).exists():
        raise ValidationError(
            {"assignee": _("Choose a rep of %(team)s.") % {"team": handoff.to_team.name}}
        )
    now = timezone.now()
    handoff.status = Handoff.Status.ACCEPTED
    handoff.decided_at = now
    handoff.decided_by = by
    handoff.to_user = assignee
    handoff.save(update_fields=["status", "decided_at", "decided_by", "to_user"])
    if handoff.kind == Handoff.Kind.DEAL_TO_CS:
        _deal_handoff_accepted(handoff, assignee, subscription or {})
        return handoff
    lead = Lead.objects.select_for_update().get(pk=handoff.lead_id)
    lead.status = Lead.Status.SQL
    lead.owner = assignee
    lead.accepted_on = max(timezone.localdate(), lead.handed_off_on or lead.created_on)
    lead.save(update_fields=["status", "owner", "accepted_on"])
    return handoff


@transaction.atomic
def handoff_reject(*, handoff: Handoff, by: User, reason: str) -> Handoff:
    """Sales sends the lead back to marketing with a reason, shown on the lead."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Say why the lead is rejected.")})
    handoff = _decidable(handoff, by)
    handoff.status = Handoff.Status.REJECTED
    handoff.decided_at = timezone.now()
    handoff.decided_by = by
    handoff.reason = reason
    handoff.save(update_fields=["status", "decided_at", "decided_by", "reason"])
    if handoff.kind == Handoff.Kind.LEAD_TO_SALES:
        Lead.objects.filter(pk=handoff.lead_id).update(status=Lead.Status.WORKING)
    return handoff


# --- Sales → customer success ------------------------------------------------------------


def deal_won_handoff(opportunity, by: User | None):
    """A deal just won: hand the customer to customer success (a handoff with its
    checklist and SLA, and the deal's recurring part as a draft subscription), inside the
    transaction that won it. Idempotent: a deal is handed over once."""
    from crm.services import draft_subscription_from_deal, health_refresh_soon

    from .models import ChecklistTemplateItem, HandoffChecklistItem

    existing = Handoff.objects.filter(opportunity=opportunity, kind=Handoff.Kind.DEAL_TO_CS)
    if existing.exists():
        return existing.first()
    team = Team.objects.filter(kind=Team.Kind.CS).order_by("pk").first()
    if team is None:
        log.warning("deal %s won but there is no customer success team", opportunity.pk)
        return None
    now = timezone.now()
    organisation = Organisation.get()
    # A customer CS already looks after (an expansion, a renewal) goes to that manager.
    owner = opportunity.account.owner
    named = owner if owner is not None and owner.role == User.Role.CS else None
    if named is not None and named.team_id:
        team = named.team
    handoff = Handoff.objects.create(
        kind=Handoff.Kind.DEAL_TO_CS,
        to_user=named,
        opportunity=opportunity,
        from_user=by or opportunity.owner,
        to_team=team,
        created_at=now,
        sla_due_at=add_business_days(now, organisation.handoff_sla_business_days, organisation),
    )
    HandoffChecklistItem.objects.bulk_create(
        HandoffChecklistItem(handoff=handoff, label=item.label, position=item.position)
        for item in ChecklistTemplateItem.objects.filter(active=True)
    )
    draft_subscription_from_deal(opportunity)
    health_refresh_soon(opportunity.account_id)
    notify_handoff_addressed(handoff)
    return handoff


def _deal_handoff_accepted(handoff, cs_manager: User, edits: dict):
    from crm.models import Account, Subscription
    from crm.services import health_refresh_soon

    drafts = Subscription.objects.select_for_update().filter(
        source_opportunity_id=handoff.opportunity_id, status=Subscription.Status.DRAFT
    )
    for draft in drafts:
        for field in ("mrr", "start_on", "product"):
            if edits.get(field) not in (None, ""):
                setattr(draft, field, edits[field])
        if draft.end_on is not None and draft.end_on <= draft.start_on:
            raise ValidationError({"start_on": _("The subscription must start before it ends.")})
        if draft.mrr < 0:
            raise ValidationError({"mrr": _("Enter a monthly amount of at least 0.")})
        draft.status = Subscription.Status.CONFIRMED
        draft.save()
    account_id = handoff.opportunity.account_id
    Account.objects.filter(pk=account_id).update(owner=cs_manager)
    health_refresh_soon(account_id)


@transaction.atomic
def checklist_item_set(*, item, by: User, done: bool):
    """Tick (or untick) a step of a handoff the user may decide or has accepted."""
    handoff = item.handoff
    allowed = (
        by.role == User.Role.ADMIN
        or handoff.to_user_id == by.pk
        or (handoff.to_team_id == by.team_id and by.role in (User.Role.CS, User.Role.MANAGER))
    )
    if not allowed:
        raise PermissionDenied(_("This handoff is not addressed to you or your team."))
    item.done = done
    item.done_by = by if done else None
    item.done_at = timezone.now() if done else None
    item.save(update_fields=["done", "done_by", "done_at"])
    return item


# --- Opportunities -----------------------------------------------------------------------


class Conflict(Exception):
    """The deal changed since the client loaded it: nothing was saved."""

    def __init__(self, current, submitted: dict | None = None):
        self.current = current
        self.changes = {}
        for name, value in (submitted or {}).items():
            stored = getattr(current, name, None)
            if hasattr(stored, "pk"):
                stored_key, value_key = stored.pk, getattr(value, "pk", value)
            else:
                stored_key, value_key = stored, value
            if str(stored_key if stored_key is not None else "") != str(
                value_key if value_key is not None else ""
            ):
                self.changes[name] = (value, stored)
        super().__init__(
            _("Someone else saved this deal while you were editing it (now version %(v)s).")
            % {"v": current.version}
        )


def _check_version(current, expected_version, submitted=None):
    if expected_version is None or str(expected_version) != str(current.version):
        raise Conflict(current, submitted)


def _apply_stage(opportunity, stage, *, closed_on=None, lost_reason="", require_reason=True):
    """Set stage, status, close date and lost reason consistently (not saved). Returns the
    day the deal entered the stage: today for an open stage, the close date otherwise."""
    from .models import Stage

    today = timezone.localdate()
    errors = {}
    if opportunity.pipeline_id and stage.pipeline_id != opportunity.pipeline_id:
        errors["stage"] = _("Choose a stage of the %(pipeline)s pipeline.") % {
            "pipeline": opportunity.pipeline
        }
    if stage.outcome == Stage.Outcome.OPEN:
        closed_on, entered_on = None, today
    else:
        closed_on = closed_on or today
        entered_on = closed_on
        if closed_on > today:
            errors["closed_on"] = _("A deal cannot close in the future.")
        elif closed_on < opportunity.created_on:
            errors["closed_on"] = _("A deal cannot close before it was created.")
        if stage.outcome == Stage.Outcome.LOST:
            lost_reason = (lost_reason or "").strip()
            if require_reason and not lost_reason:
                errors["lost_reason"] = _("Say why the deal was lost.")
    if errors:
        raise ValidationError(errors)
    opportunity.pipeline_id = stage.pipeline_id
    opportunity.stage = stage
    opportunity.status = stage.outcome
    opportunity.closed_on = closed_on
    if stage.outcome == Stage.Outcome.LOST:
        opportunity.lost_reason = lost_reason
    return entered_on


def _enter_stage(opportunity, stage, by, *, closed_on=None, lost_reason=""):
    """Move the (locked) deal into `stage` and append the move to the ledger."""
    from .models import StageChange

    previous = opportunity.stage_id
    was_won = opportunity.status == "won"
    entered_on = _apply_stage(opportunity, stage, closed_on=closed_on, lost_reason=lost_reason)
    if previous != stage.pk:
        opportunity.stage_entered_on = entered_on
        StageChange.objects.create(
            opportunity=opportunity,
            from_stage_id=previous,
            to_stage=stage,
            entered_on=entered_on,
            changed_by=by,
        )
    if stage.outcome == "won" and not was_won:
        deal_won_handoff(opportunity, by)


@transaction.atomic
def opportunity_create(*, opportunity, by: User):
    """Save a new deal (status and close date from its stage) and open its ledger."""
    from .models import StageChange

    stage = opportunity.stage
    opportunity.pipeline_id = None
    entered_on = _apply_stage(
        opportunity, stage, closed_on=opportunity.closed_on, lost_reason=opportunity.lost_reason
    )
    opportunity.stage_entered_on = entered_on if stage.is_closed else opportunity.created_on
    opportunity.save()
    StageChange.objects.create(
        opportunity=opportunity,
        from_stage=None,
        to_stage=stage,
        entered_on=opportunity.stage_entered_on,
        changed_by=by,
    )
    if stage.outcome == "won":
        deal_won_handoff(opportunity, by)
    return opportunity


@transaction.atomic
def opportunity_update(*, opportunity_id: int, data: dict, by: User, expected_version):
    """Apply the edited fields if the deal is still at `expected_version`; a stage among
    them moves the deal (ledger included). The version moves only here."""
    from .models import Opportunity

    current = Opportunity.objects.select_for_update().get(pk=opportunity_id)
    _check_version(current, expected_version, data)
    before = _watched(current)
    data = dict(data)
    stage = data.pop("stage", current.stage)
    closed_on = data.pop("closed_on", None)
    lost_reason = data.pop("lost_reason", current.lost_reason)
    for name, value in data.items():
        setattr(current, name, value)
    if stage.pk != current.stage_id:
        _enter_stage(current, stage, by, closed_on=closed_on, lost_reason=lost_reason)
    elif stage.is_closed:
        # Same closed stage: the close date or reason may be corrected.
        _apply_stage(
            current, stage, closed_on=closed_on or current.closed_on, lost_reason=lost_reason
        )
    else:
        current.lost_reason = lost_reason or ""
    current.version += 1
    current.full_clean(exclude=["account", "owner", "primary_contact", "pipeline", "stage"])
    current.save()
    _tell_owners(current, before, by)
    return current


@transaction.atomic
def opportunity_move(
    *, opportunity_id: int, stage, by: User, expected_version, closed_on=None, lost_reason=""
):
    """Move a deal to another stage of its pipeline (the board's drag and drop)."""
    from .models import Opportunity

    current = Opportunity.objects.select_for_update().get(pk=opportunity_id)
    _check_version(current, expected_version, {"stage": stage})
    before = _watched(current)
    _enter_stage(current, stage, by, closed_on=closed_on, lost_reason=lost_reason)
    current.version += 1
    current.save()
    _tell_owners(current, before, by)
    return current


# What an owner is told of when someone else changes it.
_WATCHED = (
    "name",
    "stage_id",
    "status",
    "amount",
    "currency",
    "owner_id",
    "expected_close_on",
    "closed_on",
)


def _watched(opportunity) -> dict:
    return {field: getattr(opportunity, field) for field in _WATCHED}


def _tell_owners(opportunity, before: dict, by: User | None) -> None:
    """The deal's owner (and the one it was taken from) hear of a change someone else
    made: one notification per change (the version it made)."""
    after = _watched(opportunity)
    fields = [name.removesuffix("_id") for name in _WATCHED if before[name] != after[name]]
    if not fields:
        return
    owners = {opportunity.owner_id, before["owner_id"]} - {None, by.pk if by else None}
    if not owners:  # an owner moving their own deal: nobody to tell, no query
        return
    notify(
        User.objects.filter(pk__in=owners),
        Notification.Kind.DEAL_CHANGED,
        f"deal:{opportunity.pk}:v{opportunity.version}",
        url=opportunity.get_absolute_url(),
        params={"by": str(by) if by else "", "subject": opportunity.name, "fields": fields},
        exclude=by,
    )


# --- Lead conversion ---------------------------------------------------------------------


def lead_matches(lead: Lead, user: User) -> dict:
    """Existing records this lead probably is: contacts with its e-mail, accounts with its
    e-mail's domain or its company's name (compared through the normalisation helper)."""
    from crm.models import Account, Contact
    from revops.text import normalize

    contacts, accounts = Contact.objects.none(), Account.objects.none()
    if lead.email:
        contacts = Contact.objects.visible_to(user).filter(email__iexact=lead.email)
        domain = lead.email.rsplit("@", 1)[-1].lower()
        accounts = Account.objects.visible_to(user).filter(domain=domain)
    if lead.company:
        company = normalize(lead.company)
        from revops.text import Normalized

        by_name = Account.objects.visible_to(user).alias(n=Normalized("name")).filter(n=company)
        accounts = accounts | by_name
    return {
        "accounts": list(accounts.select_related("owner").distinct()[:10]),
        "contacts": list(contacts.select_related("account")[:10]),
    }


@transaction.atomic
def lead_convert(*, lead: Lead, by: User, opportunity_data: dict, account=None, contact=None):
    """An accepted lead becomes (or joins) an account and contact and opens a new deal,
    all or nothing; the lead keeps its history and points at the deal."""
    from crm.models import Account, Contact

    from .models import Opportunity

    lead = Lead.objects.select_for_update().get(pk=lead.pk)
    if lead.status != Lead.Status.SQL:
        raise ValidationError(
            {
                "lead": _("Only a lead accepted by sales can be converted (this one is %(s)s).")
                % {"s": lead.get_status_display().lower()}
            }
        )
    owner = lead.owner or by
    today = timezone.localdate()
    currency_check(opportunity_data.get("currency", ""))
    if (
        contact is not None
        and account is not None
        and contact.account_id
        not in (
            None,
            account.pk,
        )
    ):
        raise ValidationError({"contact": _("This contact belongs to another account.")})
    if account is None:
        domain = ""
        if lead.email and "@" in lead.email:
            domain = lead.email.rsplit("@", 1)[-1].lower()
            if domain in FREE_MAIL or Account.objects.alive().filter(domain=domain).exists():
                domain = ""
        account = Account.objects.create(
            name=lead.company or lead.full_name or lead.email, domain=domain, owner=owner
        )
    if contact is None and (lead.first_name or lead.last_name or lead.email):
        contact = Contact.objects.create(
            account=account,
            first_name=lead.first_name or lead.email.split("@")[0],
            last_name=lead.last_name,
            email=lead.email,
            created_by=by,
        )
    opportunity = Opportunity(
        account=account, owner=owner, primary_contact=contact, **opportunity_data
    )
    opportunity.full_clean(exclude=["pipeline", "status"])
    opportunity_create(opportunity=opportunity, by=by)
    lead.status = Lead.Status.CONVERTED
    lead.converted_on = max(today, lead.accepted_on or lead.created_on)
    lead.converted_opportunity = opportunity
    lead.account = account
    lead.save(update_fields=["status", "converted_on", "converted_opportunity", "account"])
    return opportunity


FREE_MAIL = {
    "gmail.com",
    "yahoo.com",
    "outlook.com",
    "hotmail.com",
    "icloud.com",
    "proton.me",
    "protonmail.com",
    "chmail.ir",
    "yahoo.co.uk",
    "live.com",
}
