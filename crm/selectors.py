"""Reads shared by pages and the API: the account's unified timeline and global search."""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import (
    CharField,
    DateTimeField,
    DecimalField,
    F,
    OuterRef,
    Q,
    Subquery,
    Value,
)
from django.db.models.functions import Cast
from django.utils import timezone

from revops.listing import search_query
from revops.models import User

from .models import Account, Activity, Contact, HealthScore, Subscription

TIMELINE_PAGE = 50


@dataclass
class TimelineEvent:
    kind: str  # activity | lead | handoff
    at: datetime
    obj: object


def _as_moment(date_field):
    return Cast(date_field, output_field=DateTimeField())


def _timeline_sources(account: Account, user: User):
    """Each source is (kind, queryset of (pk, at) rows, loader). Later sections add theirs
    (opportunities and stage changes, subscription changes, health drops) here."""
    from pipeline.models import Handoff, Lead, Opportunity, StageChange

    # An OR across a join cannot use an index: each side is a part of the UNION of its own.
    activities = Activity.objects.visible_to(user)
    activities = [
        activities.filter(account=account),
        activities.filter(contact__account=account).exclude(account=account),
    ]
    handoffs = Handoff.objects.visible_to(user)
    handoffs = [
        handoffs.filter(lead__account=account),
        handoffs.filter(opportunity__account=account).exclude(lead__account=account),
    ]
    leads = Lead.objects.visible_to(user).filter(account=account)
    deals = Opportunity.objects.visible_to(user).filter(account=account)
    subscriptions = Subscription.objects.visible_to(user).confirmed().filter(account=account)
    # An end that a plan change made is shown as the change (the new subscription's start).
    ended = subscriptions.filter(end_on__lte=timezone.localdate(), replaced_by__isnull=True)
    drops = (
        HealthScore.objects.filter(account=account)
        .annotate(previous=_previous_score())
        .filter(previous__gte=F("score") + HEALTH_DROP)
        .annotate(at=_as_moment("computed_on"))
    )
    # A deal's first ledger row is its creation, already the "deal" event.
    moves = StageChange.objects.filter(opportunity__in=deals, from_stage__isnull=False)
    return {
        "activity": (
            [part.annotate(at=_as_moment("occurred_on")) for part in activities],
            lambda ids: Activity.objects.filter(pk__in=ids).select_related(
                "owner", "contact", "lead"
            ),
        ),
        "lead": (
            leads.annotate(at=_as_moment("created_on")),
            lambda ids: Lead.objects.filter(pk__in=ids).select_related("owner"),
        ),
        "handoff": (
            [part.annotate(at=F("created_at")) for part in handoffs],
            lambda ids: Handoff.objects.filter(pk__in=ids).select_related(
                "lead", "opportunity", "from_user", "to_team", "to_user", "decided_by"
            ),
        ),
        "deal": (
            deals.annotate(at=_as_moment("created_on")),
            lambda ids: Opportunity.objects.filter(pk__in=ids).select_related("owner", "stage"),
        ),
        "subscription": (
            subscriptions.annotate(at=_as_moment("start_on")),
            lambda ids: Subscription.objects.filter(pk__in=ids).select_related(
                "replaces", "churn_reason"
            ),
        ),
        "subscription_end": (
            ended.annotate(at=_as_moment("end_on")),
            lambda ids: Subscription.objects.filter(pk__in=ids).select_related("churn_reason"),
        ),
        "health_drop": (
            drops,
            lambda ids: HealthScore.objects.filter(pk__in=ids).annotate(previous=_previous_score()),
        ),
        "stage_change": (
            moves.annotate(at=_as_moment("entered_on")),
            lambda ids: StageChange.objects.filter(pk__in=ids).select_related(
                "opportunity", "from_stage", "to_stage", "changed_by"
            ),
        ),
    }


def _previous_score():
    """The score of the account's computation before this one."""
    return Subquery(
        HealthScore.objects.filter(
            account_id=OuterRef("account_id"), computed_on__lt=OuterRef("computed_on")
        )
        .order_by("-computed_on")
        .values("score")[:1]
    )


TIMELINE_KINDS = (
    "activity",
    "lead",
    "handoff",
    "deal",
    "stage_change",
    "subscription",
    "subscription_end",
    "health_drop",
)
# The column each kind's events are dated by (what `at` is made of), for its index.
_TIMELINE_ORDER = {
    "activity": "occurred_on",
    "lead": "created_on",
    "handoff": "created_at",
    "deal": "created_on",
    "stage_change": "entered_on",
    "subscription": "start_on",
    "subscription_end": "end_on",
    "health_drop": "computed_on",
}
HEALTH_DROP = 10  # points lost from one computation to the next that make a timeline event


def account_timeline(
    account: Account, user: User, *, kinds=None, page: int = 1
) -> tuple[list[TimelineEvent], bool]:
    """The account's events, newest first, `TIMELINE_PAGE` at a time: one UNION query for
    the page, then one query per kind present to load the records."""
    sources = _timeline_sources(account, user)
    chosen = [k for k in TIMELINE_KINDS if not kinds or k in kinds]
    if not chosen:
        return [], False
    start = (page - 1) * TIMELINE_PAGE
    # Each part brings only its own newest rows (an index scan that stops early), so the
    # page costs the same for an account with twenty events as for one with twenty thousand.
    parts = [
        part.order_by(F(_TIMELINE_ORDER[kind]).desc(), "-pk").values_list(
            Value(kind, output_field=CharField()), "pk", "at"
        )[: start + TIMELINE_PAGE + 1]
        for kind in chosen
        for part in (sources[kind][0] if isinstance(sources[kind][0], list) else [sources[kind][0]])
    ]
    if len(parts) > 1:
        union = parts[0].union(*parts[1:], all=True).order_by("-at", "-pk")
        rows = list(union[start : start + TIMELINE_PAGE + 1])
    else:
        rows = list(parts[0])[start:]
    has_more = len(rows) > TIMELINE_PAGE
    rows = rows[:TIMELINE_PAGE]
    ids = {}
    for kind, pk, _at in rows:
        ids.setdefault(kind, []).append(pk)
    loaded = {kind: {obj.pk: obj for obj in sources[kind][1](pks)} for kind, pks in ids.items()}
    events = [TimelineEvent(kind, at, loaded[kind][pk]) for kind, pk, at in rows]
    return events, has_more


# Above this many matches a prefix is "common" (عل, Ma): reading names in order and keeping
# the matches finds a page at once; below it, the matches themselves are few to sort.
SEARCH_DENSE = 300


def _first_matches(queryset, query, order, limit):
    """The first `limit` records matching `query` in `order`, in two short queries whatever
    the prefix: the (capped) matches from the search index, then either those few sorted,
    or, for a common prefix, the records read in `order` until `limit` match. One query
    cannot be both: the planner guesses a prefix's frequency badly either way."""
    matching = queryset.filter(search=query)
    ids = list(matching.order_by().values_list("pk", flat=True)[:SEARCH_DENSE])
    if len(ids) < SEARCH_DENSE:
        return list(queryset.filter(pk__in=ids).order_by(*order)[:limit])
    return list(matching.order_by(*order)[:limit])


def global_search(user: User, text: str, limit: int = 8) -> dict:
    """Accounts, contacts and leads whose name, e-mail or domain words start with the
    words typed, in either script and any spelling of Persian letters and digits."""
    from pipeline.models import Lead

    query = search_query(text)
    if query is None:
        return {"accounts": [], "contacts": [], "leads": []}
    return {
        "accounts": _first_matches(
            Account.objects.visible_to(user).select_related("owner"), query, ["name", "pk"], limit
        ),
        "contacts": _first_matches(
            Contact.objects.visible_to(user).select_related("account"),
            query,
            ["first_name", "last_name", "pk"],
            limit,
        ),
        "leads": _first_matches(
            Lead.objects.visible_to(user).select_related("owner"),
            query,
            ["-created_on", "-pk"],
            limit,
        ),
    }


def cs_accounts(user: User, limit: int = 200) -> list:
    """The accounts a CS manager owns, with MRR (base currency), next renewal date, health
    and last touch: one query."""
    from django.db.models import Sum
    from django.db.models.functions import Coalesce

    from revops.models import Organisation
    from revops.money import converted

    today = timezone.localdate()
    base = Organisation.get().base_currency
    active = Subscription.objects.filter(account=OuterRef("pk")).active_on(today)
    mrr = (
        active.order_by()
        .values("account")
        .annotate(total=Sum(converted("mrr", "currency", OuterRef("start_on"), base)))
        .values("total")
    )
    renewal = active.filter(end_on__isnull=False).order_by("end_on").values("end_on")
    touch = (
        Activity.objects.filter(Q(account=OuterRef("pk")) | Q(contact__account=OuterRef("pk")))
        .order_by("-occurred_on")
        .values("occurred_on")[:1]
    )
    qs = Account.objects.visible_to(user)
    if user.role != User.Role.ADMIN:
        qs = qs.filter(owner=user)
    return list(
        qs.annotate(
            mrr=Coalesce(
                Subquery(mrr[:1]),
                Value(0),
                output_field=DecimalField(max_digits=30, decimal_places=2),
            ),
            renewal_on=Subquery(renewal[:1]),
            last_touch=Subquery(touch),
        ).order_by(F("health_score").asc(nulls_last=True), "name")[:limit]
    )
