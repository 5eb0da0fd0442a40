"""Reads of the pipeline shared by pages and API: the board, a deal's stage path."""

from dataclasses import dataclass, field
from datetime import date

from django.db.models import Count, Exists, F, OuterRef, Q, Sum, Value, Window
from django.db.models.functions import Coalesce, RowNumber
from django.utils import timezone

from revops.models import User
from revops.money import converted

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
    user: User, pipeline: Pipeline, *, owner=None, team=None, close_from=None, close_to=None
):
    qs = Opportunity.objects.visible_to(user).filter(pipeline=pipeline)
    if owner:
        qs = qs.filter(owner=owner)
    if team:
        qs = qs.filter(owner__team=team)
    if close_from:
        qs = qs.filter(Q(expected_close_on__gte=close_from) | Q(closed_on__gte=close_from))
    if close_to:
        qs = qs.filter(Q(expected_close_on__lte=close_to) | Q(closed_on__lte=close_to))
    return qs


def amount_in_base(base: str):
    """Each deal's amount in the base currency: at its close date when closed, else today
    (kpis.md), rounded per deal."""
    day = Coalesce(OuterRef("closed_on"), Value(timezone.localdate()))
    return converted("amount", "currency", day, base)


def pipeline_board(user: User, pipeline: Pipeline, base: str, **filters) -> list[Column]:
    """The board in three queries: the stages, count and sum per stage, and the first
    CARDS_PER_COLUMN cards of every column (a window function, not a query per column),
    each card marked `editable` by the user."""
    stages = list(pipeline.stages.order_by("position", "pk"))
    qs = board_queryset(user, pipeline, **filters)
    columns = {stage.pk: Column(stage) for stage in stages}
    totals = (
        qs.order_by().values("stage_id").annotate(n=Count("pk"), total=Sum(amount_in_base(base)))
    )
    for row in totals:
        column = columns.get(row["stage_id"])
        if column:
            column.count, column.total = row["n"], row["total"] or 0
    cards = (
        qs.annotate(
            rank=Window(
                RowNumber(),
                partition_by=[F("stage_id")],
                order_by=[F("expected_close_on").asc(nulls_last=True), F("pk").asc()],
            )
        )
        .filter(rank__lte=CARDS_PER_COLUMN)
        .annotate(editable=editable_flag(user))
        .select_related("account", "owner")
        .order_by("stage_id", "rank")
    )
    for card in cards:
        columns[card.stage_id].cards.append(card)
    return list(columns.values())


def editable_flag(user: User):
    return Exists(Opportunity.objects.editable_by(user).filter(pk=OuterRef("pk")))


def column_cards(user: User, pipeline: Pipeline, stage: Stage, offset: int, **filters):
    qs = board_queryset(user, pipeline, **filters).filter(stage=stage)
    return list(
        qs.annotate(editable=editable_flag(user))
        .select_related("account", "owner")
        .order_by(F("expected_close_on").asc(nulls_last=True), "pk")[
            offset : offset + CARDS_PER_COLUMN
        ]
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
