"""Reads of the pipeline shared by pages and API: the board, a deal's stage path."""

from dataclasses import dataclass, field
from datetime import date

from django.db.models import Count, Exists, F, OuterRef, Q, Sum
from django.utils import timezone

from revops.models import User
from revops.money import converted, converted_at, rates_on

from .models import Opportunity, Pipeline, Stage, StageChange

CARDS_PER_COLUMN = 50


@dataclass
class Column:
    stage: Stage
    count: int = 0
    total: object = 0
    cards: list = field(default_factory=list)

    @property
    def has_more(self):
        return self.count > len(self.cards)


def board_queryset(
    user: User,
    pipeline: Pipeline,
    *,
    owner=None,
    team=None,
    close_from=None,
    close_to=None,
    closed_since=None,
):
    qs = Opportunity.objects.visible_to(user).filter(pipeline=pipeline)
    if closed_since:
        qs = qs.filter(Q(status=Stage.Outcome.OPEN) | Q(closed_on__gte=closed_since))
    if owner:
        qs = qs.filter(owner=owner)
    if team:
        # A list of the team's people, not a join: each column can then be read in its
        # index's order and stop at its last card.
        qs = qs.filter(owner_id__in=User.objects.filter(team=team).values("pk"))
    if close_from:
        qs = qs.filter(Q(expected_close_on__gte=close_from) | Q(closed_on__gte=close_from))
    if close_to:
        qs = qs.filter(Q(expected_close_on__lte=close_to) | Q(closed_on__lte=close_to))
    return qs


def pipeline_board(user: User, pipeline: Pipeline, base: str, **filters) -> list[Column]:
    """The board in four queries: the stages, the rates of the day, count and sum per stage,
    and the first CARDS_PER_COLUMN cards of every column (each column's own index scan,
    stopping at its last card), each card marked `editable` by the user. Open deals are
    counted from an index alone (`opp_open_board`); the won and lost columns hold the deals
    closed since `closed_since` (or in the `close_from`/`close_to` period)."""
    stages = list(pipeline.stages.order_by("position", "pk"))
    open_deals, closed_deals = _board_parts(user, pipeline, **filters)
    columns = {
        column.stage.pk: column for column in _totals(stages, open_deals, closed_deals, base)
    }
    firsts = [
        (closed_deals if stage.is_closed else open_deals)
        .filter(stage=stage)
        .order_by(*card_order(stage))
        .values("pk")[:CARDS_PER_COLUMN]
        for stage in stages
        if columns[stage.pk].count
    ]
    if not firsts:
        return list(columns.values())
    cards = (
        Opportunity.objects.filter(pk__in=firsts[0].union(*firsts[1:], all=True))
        .annotate(editable=editable_flag(user))
        .select_related("account", "owner")
        .order_by()
    )
    far = date.max
    for card in sorted(cards, key=lambda c: (c.expected_close_on or far, c.pk)):
        columns[card.stage_id].cards.append(card)
    for column in columns.values():
        if column.stage.is_closed:
            column.cards.sort(key=lambda c: (c.closed_on, c.pk), reverse=True)
    return list(columns.values())


def _board_parts(user, pipeline, *, closed_since=None, **filters):
    """The board's open deals and its closed ones (since `closed_since` when given)."""
    qs = board_queryset(user, pipeline, **filters).order_by()
    open_deals = qs.filter(status=Stage.Outcome.OPEN)
    closed_deals = qs.filter(status__in=[Stage.Outcome.WON, Stage.Outcome.LOST])
    if closed_since:
        closed_deals = closed_deals.filter(closed_on__gte=closed_since)
    return open_deals, closed_deals


def _totals(stages, open_deals, closed_deals, base) -> list[Column]:
    """A column per stage with its count and sum in the base currency, in one query: the
    open deals at today's rates (constants of the query), the closed ones at their close
    date's."""
    columns = {stage.pk: Column(stage) for stage in stages}
    ids = list(columns)
    rates = rates_on(timezone.localdate())
    totals = (
        open_deals.filter(stage__in=ids)
        .values("stage_id")
        .annotate(n=Count("*"), total=Sum(converted_at("amount", "currency", rates, base)))
        .union(
            closed_deals.filter(stage__in=ids)
            .values("stage_id")
            .annotate(
                n=Count("*"),
                total=Sum(converted("amount", "currency", OuterRef("closed_on"), base)),
            ),
            all=True,
        )
        .order_by()
    )
    for row in totals:
        column = columns.get(row["stage_id"])
        if column:
            column.count, column.total = row["n"], row["total"] or 0
    return list(columns.values())


def board_totals(user: User, pipeline: Pipeline, base: str, *, stages, **filters) -> list[Column]:
    """The count and sum of some of the board's columns (after a move: the two it changed)."""
    open_deals, closed_deals = _board_parts(user, pipeline, **filters)
    unique = list({stage.pk: stage for stage in stages}.values())
    return _totals(unique, open_deals, closed_deals, base)


def card_order(stage: Stage) -> list:
    """Open columns: the deals expected to close soonest first; won and lost columns: the
    latest closed first."""
    if stage.is_closed:
        return [F("closed_on").desc(), F("pk").desc()]
    return [F("expected_close_on").asc(nulls_last=True), F("pk").asc()]


def editable_flag(user: User):
    return Exists(Opportunity.objects.editable_by(user).filter(pk=OuterRef("pk")))


def column_cards(user: User, pipeline: Pipeline, stage: Stage, offset: int, **filters):
    qs = board_queryset(user, pipeline, **filters).filter(stage=stage)
    return list(
        qs.annotate(editable=editable_flag(user))
        .select_related("account", "owner")
        .order_by(*card_order(stage))[offset : offset + CARDS_PER_COLUMN]
    )


@dataclass
class StageStay:
    stage: Stage
    entered_on: date
    left_on: date | None

    @property
    def days(self) -> int:
        return ((self.left_on or timezone.localdate()) - self.entered_on).days


def stage_path(opportunity: Opportunity) -> list[StageStay]:
    """Every stage the deal went through, in order, with the days it spent there."""
    changes = list(
        StageChange.objects.filter(opportunity=opportunity)
        .select_related("to_stage")
        .order_by("entered_on", "pk")
    )
    stays = []
    for index, change in enumerate(changes):
        left = changes[index + 1].entered_on if index + 1 < len(changes) else None
        stays.append(StageStay(change.to_stage, change.entered_on, left))
    return stays
