"""Writes about leads and handoffs that span several records, shared by pages and API."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from revops.models import Organisation, Team, User

from .models import Handoff, Lead


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
    """Who a handoff to `team` may name: its active reps and managers."""
    return User.objects.filter(
        team=team, is_active=True, role__in=[User.Role.REP, User.Role.MANAGER]
    )


@transaction.atomic
def lead_handoff(
    *, lead: Lead, by: User, to_team: Team, to_user: User | None = None, note: str = ""
) -> Handoff:
    """Marketing marks the lead MQL and hands it to a sales team, or one rep of it."""
    lead = Lead.objects.select_for_update().get(pk=lead.pk)
    errors = {}
    if lead.status in (Lead.Status.CONVERTED, Lead.Status.DISQUALIFIED, Lead.Status.SQL):
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
    return handoff


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
def handoff_accept(*, handoff: Handoff, by: User, assignee: User | None = None) -> Handoff:
    """Sales accepts: the lead becomes SQL, owned by the accepting rep (or the rep that a
    manager names)."""
    handoff = _decidable(handoff, by)
    if by.role == User.Role.REP:
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
    Lead.objects.filter(pk=handoff.lead_id).update(status=Lead.Status.WORKING)
    return handoff
