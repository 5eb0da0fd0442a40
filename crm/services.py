"""Writes on the customer record that are more than one form's save."""

import logging
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from revops.models import Notification, Organisation, User
from revops.money import currency_check
from revops.notifications import Notice, notify, notify_each

from .models import Account, Activity, ChurnReason, Contact, HealthScore, Subscription

log = logging.getLogger(__name__)


@transaction.atomic
def account_delete(account: Account) -> None:
    """Soft delete: the account and its history stay in the database, out of every list.
    A customer with open deals or running subscriptions is not deleted."""
    from pipeline.models import Opportunity

    if Opportunity.objects.filter(account=account, status="open").exists() or (
        Subscription.objects.filter(account=account).active_on(timezone.localdate()).exists()
    ):
        raise ValidationError(
            _("This account has open deals or running subscriptions: close them first.")
        )
    Account.objects.filter(pk=account.pk).update(is_deleted=True, deleted_at=timezone.now())


@transaction.atomic
def contact_delete(contact: Contact) -> None:
    Contact.objects.filter(pk=contact.pk).update(is_deleted=True, deleted_at=timezone.now())


# --- Subscriptions -----------------------------------------------------------------------


@transaction.atomic
def subscription_create(*, account: Account, by: User, **data) -> Subscription:
    currency_check(data.get("currency", ""))
    subscription = Subscription(account=account, status=Subscription.Status.CONFIRMED, **data)
    subscription.full_clean()
    subscription.save()
    health_refresh_soon(account.pk)
    return subscription


@transaction.atomic
def subscription_change_plan(
    *, subscription: Subscription, by: User, on, mrr: Decimal, product: str | None = None
) -> Subscription:
    """End the current plan on `on` and start the new one the same day: history stays."""
    current = Subscription.objects.select_for_update().get(pk=subscription.pk)
    errors = {}
    if current.status != Subscription.Status.CONFIRMED:
        errors["subscription"] = _("Confirm the subscription before changing its plan.")
    if current.end_on is not None and current.end_on <= on:
        errors["on"] = _("The subscription has ended by then.")
    if on <= current.start_on:
        errors["on"] = _("A plan change starts after the current plan started.")
    if mrr is None or mrr < 0:
        errors["mrr"] = _("Enter a monthly amount of at least 0.")
    if errors:
        raise ValidationError(errors)
    new = Subscription.objects.create(
        account=current.account,
        product=product or current.product,
        mrr=mrr,
        currency=current.currency,
        start_on=on,
        end_on=current.end_on,
        status=Subscription.Status.CONFIRMED,
        source_opportunity=current.source_opportunity,
        replaces=current,
    )
    current.end_on = on
    current.save(update_fields=["end_on"])
    health_refresh_soon(current.account_id)
    return new


@transaction.atomic
def subscription_cancel(
    *, subscription: Subscription, by: User, on, reason: ChurnReason, note: str = ""
) -> Subscription:
    current = Subscription.objects.select_for_update().get(pk=subscription.pk)
    errors = {}
    if on <= current.start_on:
        errors["on"] = _("A subscription ends after it starts.")
    if current.end_on is not None and current.end_on < on:
        errors["on"] = _("The subscription has ended already.")
    if reason is None:
        errors["reason"] = _("Say why the customer cancels.")
    if errors:
        raise ValidationError(errors)
    current.end_on = on
    current.churn_reason = reason
    current.churn_note = note
    current.save(update_fields=["end_on", "churn_reason", "churn_note"])
    health_refresh_soon(current.account_id)
    return current


def draft_subscription_from_deal(opportunity) -> Subscription | None:
    """The recurring part of a won deal as a draft: (amount − one-time fees) spread over
    its contract months, from its close date."""
    from revops.dates import add_months

    months = opportunity.contract_months or 0
    if months <= 0:
        return None
    recurring = opportunity.amount - (opportunity.one_time_amount or 0)
    mrr = (recurring / months).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    start = opportunity.closed_on or timezone.localdate()
    return Subscription.objects.create(
        account_id=opportunity.account_id,
        product=opportunity.name,
        mrr=mrr,
        currency=opportunity.currency,
        start_on=start,
        end_on=add_months(start, months),
        status=Subscription.Status.DRAFT,
        source_opportunity=opportunity,
    )


# --- Health ------------------------------------------------------------------------------

# Stored in English with each score; pages translate them when they show them.
COMPONENT_LABELS = {
    "inactivity": gettext_noop("Days since the last activity"),
    "mrr_drop": gettext_noop("MRR change over the last 90 days"),
    "overdue_tasks": gettext_noop("Overdue tasks"),
    "open_handoff": gettext_noop("Handoff not yet accepted"),
    "renewal_uncovered": gettext_noop("Renewal within 60 days without a renewal deal"),
}


def account_mrr(account: Account, day=None) -> Decimal:
    """The account's MRR in the base currency at the end of `day` (today)."""
    return _mrr_on(account.pk, day or timezone.localdate())


def _mrr_on(account_id: int, day) -> Decimal:
    """One aggregate: each active subscription converted at its start date's rate and
    rounded (kpis.md), summed in the database."""
    from django.db.models import OuterRef, Sum

    from revops.money import converted

    base = Organisation.get().base_currency
    total = (
        Subscription.objects.filter(account_id=account_id)
        .active_on(day)
        .aggregate(total=Sum(converted("mrr", "currency", OuterRef("start_on"), base)))["total"]
    )
    return total or Decimal(0)


def health_components(account: Account, today=None) -> list[dict]:
    """Each component with its raw value and the points it takes away from 100."""
    from pipeline.models import Handoff, Opportunity

    today = today or timezone.localdate()
    weights = {
        **Organisation._meta.get_field("health_weights").default(),
        **(Organisation.get().health_weights or {}),
    }
    last = Activity.objects.filter(Q(account=account) | Q(contact__account=account)).aggregate(
        last=Max("occurred_on")
    )["last"]
    idle = (today - last).days if last else None
    inactivity = 1.0 if idle is None else min(1.0, max(0.0, (idle - 14) / 46))
    now_mrr, before = _mrr_on(account.pk, today), _mrr_on(account.pk, today - timedelta(days=90))
    change = (now_mrr - before) / before if before else Decimal(0)
    mrr_drop = float(min(Decimal(1), max(Decimal(0), -change * 2)))
    overdue = Activity.objects.filter(
        Q(account=account) | Q(contact__account=account),
        kind=Activity.Kind.TASK,
        done=False,
        due_on__lt=today,
    ).count()
    open_handoff = Handoff.objects.filter(
        opportunity__account=account, status=Handoff.Status.PENDING
    ).exists()
    ending = (
        Subscription.objects.filter(account=account)
        .active_on(today)
        .filter(end_on__isnull=False, end_on__lte=today + timedelta(days=60))
        .exists()
    )
    covered = Opportunity.objects.filter(
        account=account, kind=Opportunity.Kind.RENEWAL, status="open"
    ).exists()
    values = {
        "inactivity": (idle, inactivity),
        "mrr_drop": (f"{change:+.0%}" if before else None, mrr_drop),
        "overdue_tasks": (overdue, min(1.0, overdue / 3)),
        "open_handoff": (open_handoff, 1.0 if open_handoff else 0.0),
        "renewal_uncovered": (ending and not covered, 1.0 if ending and not covered else 0.0),
    }
    return [
        {
            "key": key,
            "label": COMPONENT_LABELS[key],
            "value": value,
            "points": round(weights.get(key, 0) * share),
        }
        for key, (value, share) in values.items()
    ]


@transaction.atomic
def account_health_compute(account: Account, today=None) -> HealthScore:
    """Recompute and store today's health of the account (one row a day, upserted)."""
    today = today or timezone.localdate()
    components = health_components(account, today)
    score = max(0, 100 - sum(c["points"] for c in components))
    health, _created = HealthScore.objects.update_or_create(
        account=account,
        computed_on=today,
        defaults={"score": score, "components": components},
    )
    Account.objects.filter(pk=account.pk).update(health_score=score)
    return health


def activity_changed(activity: Activity) -> None:
    """An activity is a health input (last touch, overdue tasks) of its account."""
    account_id = activity.account_id or (
        activity.contact.account_id if activity.contact_id else None
    )
    if account_id:
        health_refresh_soon(account_id)


def health_refresh_soon(account_id: int) -> None:
    """Recompute the account's health after this transaction commits, on a worker; the
    nightly pass catches up when the broker is down."""

    def enqueue():
        from .tasks import account_health_refresh

        try:
            account_health_refresh.delay(account_id)
        except Exception:  # the broker is down: the nightly recompute covers it
            log.warning("could not enqueue the health refresh of account %s", account_id)

    transaction.on_commit(enqueue)


# --- Renewals ----------------------------------------------------------------------------


def renewals_create(today=None) -> int:
    """For every confirmed subscription ending within the organisation's renewal lead time
    and not renewed yet, a renewal deal for the account's owner, once (the subscription
    holds its renewal deal, one to one, taken under a row lock)."""
    from pipeline.models import Opportunity, Pipeline
    from pipeline.services import opportunity_create

    today = today or timezone.localdate()
    organisation = Organisation.get()
    horizon = today + timedelta(days=organisation.renewal_lead_days)
    due = (
        Subscription.objects.confirmed()
        .filter(
            end_on__gt=today,
            end_on__lte=horizon,
            renewal_opportunity__isnull=True,
            replaced_by__isnull=True,
            churn_reason__isnull=True,
            account__is_deleted=False,
        )
        .values_list("pk", flat=True)
    )
    pipeline = Pipeline.default()
    stage = pipeline.stages.filter(outcome="open").order_by("position").first()
    created = 0
    for pk in list(due):
        with transaction.atomic():
            subscription = (
                Subscription.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("account__owner")
                .filter(pk=pk, renewal_opportunity__isnull=True)
                .first()
            )
            if subscription is None:
                continue
            months = 12
            deal = Opportunity(
                account=subscription.account,
                owner=subscription.account.owner,
                name=f"{subscription.product} renewal",
                kind=Opportunity.Kind.RENEWAL,
                amount=subscription.mrr * months,
                currency=subscription.currency,
                contract_months=months,
                expected_close_on=subscription.end_on,
                stage=stage,
                forecast_category="pipeline",
            )
            opportunity_create(opportunity=deal, by=None)
            subscription.renewal_opportunity = deal
            subscription.save(update_fields=["renewal_opportunity"])
            health_refresh_soon(subscription.account_id)
            notify(
                [subscription.account.owner],
                Notification.Kind.RENEWAL_CREATED,
                f"renewal:{deal.pk}",
                url=deal.get_absolute_url(),
                params={
                    "subject": f"{subscription.account.name}: {subscription.product}",
                    "due": subscription.end_on.isoformat(),
                },
            )
            created += 1
    return created


def tasks_due_notify(today=None) -> int:
    """Tell each open task's assignee (its owner) on the day it falls due, or at once for
    a task already overdue: once per task and due date (a new date is a new reminder)."""
    from django.db.models import CharField, Exists, OuterRef, Value
    from django.db.models.functions import Cast, Concat

    today = today or timezone.localdate()
    reminded = Notification.objects.filter(
        kind=Notification.Kind.TASK_DUE,
        event=Concat(
            Value("task:"),
            Cast(OuterRef("pk"), CharField()),
            Value(":"),
            Cast(OuterRef("due_on"), CharField()),
        ),
    )
    due = (
        Activity.objects.filter(
            kind=Activity.Kind.TASK, done=False, due_on__lte=today, owner__isnull=False
        )
        .exclude(Exists(reminded))
        .select_related("owner")
    )
    return notify_each(
        Notification.Kind.TASK_DUE,
        (
            Notice(
                [task.owner],
                f"task:{task.pk}:{task.due_on.isoformat()}",
                url=task.get_absolute_url(),
                params={"subject": task.subject, "due": task.due_on.isoformat()},
            )
            for task in due.iterator(chunk_size=2000)
        ),
    )
