"""Marketing's side of the funnel: leads, and the handoffs between teams.

Visibility and edit rights follow shared/spec/roles.md in the QuerySet methods below.
"""

import uuid
from datetime import timedelta

import pghistory
import pgtrigger
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.models import Account, Contact, email_domain, search_document, today
from revops.models import Team, User


def lead_external_id():
    return f"lead-{uuid.uuid4().hex}"


def handoff_external_id():
    return f"hof-{uuid.uuid4().hex}"


class LeadQuerySet(models.QuerySet):
    def visible_to(self, user: User):
        """Reps: their own leads, and those handed to them or (not yet accepted) to their
        team. Managers: their team's leads and those handed to the team or a member.
        Marketers, CS, executives and admins: all."""
        if not user.is_authenticated:
            return self.none()
        if user.role in User.READS_EVERY_DEAL_AND_LEAD:
            return self
        pending = Handoff.objects.filter(status=Handoff.Status.PENDING)
        if user.role == User.Role.REP:
            to_me = Handoff.objects.filter(to_user=user)
            to_my_team = pending.filter(to_team_id=user.team_id, to_user__isnull=True)
            return self.filter(
                Q(owner=user)
                | Q(pk__in=to_me.values("lead_id"))
                | Q(pk__in=to_my_team.values("lead_id"))
            )
        if user.role == User.Role.MANAGER and user.team_id:
            to_team = Handoff.objects.filter(
                Q(to_team_id=user.team_id) | Q(to_user__team_id=user.team_id)
            )
            return self.filter(Q(owner__team_id=user.team_id) | Q(pk__in=to_team.values("lead_id")))
        return self.filter(owner=user)

    def editable_by(self, user: User):
        qs = self.visible_to(user)
        if not user.is_authenticated:
            return qs
        if user.role in (User.Role.MARKETER, User.Role.ADMIN):
            return qs
        if user.role == User.Role.MANAGER:
            return qs  # their team's and those handed to it: exactly what they see
        if user.role == User.Role.REP:
            return qs.filter(owner=user)
        return qs.none()

    def with_duplicate_flag(self):
        """`possible_duplicate`: another lead has the same e-mail address."""
        same_email = (
            Lead.objects.filter(email=models.OuterRef("email"))
            .exclude(email="")
            .exclude(pk=models.OuterRef("pk"))
        )
        return self.annotate(possible_duplicate=models.Exists(same_email))


@pghistory.track(
    pghistory.InsertEvent("change"),
    pghistory.UpdateEvent("change"),
    fields=["owner", "status", "handed_off_on", "accepted_on", "disqualified_reason"],
    model_name="LeadEvent",
)
class Lead(models.Model):
    """A person marketing found, qualified towards a handoff to sales."""

    class Status(models.TextChoices):
        NEW = "new", _("New")
        WORKING = "working", _("Working")
        MQL = "mql", _("Marketing qualified")
        SQL = "sql", _("Sales accepted")
        CONVERTED = "converted", _("Converted")
        DISQUALIFIED = "disqualified", _("Disqualified")

    external_id = models.CharField(
        _("external id"), max_length=100, unique=True, default=lead_external_id
    )
    first_name = models.CharField(_("first name"), max_length=100, blank=True)
    last_name = models.CharField(_("last name"), max_length=100, blank=True)
    # Indexed in Meta (equality only: no second, pattern-matching index to keep up).
    email = models.EmailField(_("e-mail"), max_length=254, blank=True)
    company = models.CharField(_("company"), max_length=200, blank=True)
    account = models.ForeignKey(
        Account,
        verbose_name=_("account"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        db_index=False,  # lead_account_created starts with it
        related_name="leads",
        help_text=_("The customer this lead belongs to, once known."),
    )
    source = models.CharField(_("source"), max_length=100)
    utm_source = models.CharField(_("UTM source"), max_length=200, blank=True)
    utm_medium = models.CharField(_("UTM medium"), max_length=200, blank=True)
    utm_campaign = models.CharField(_("UTM campaign"), max_length=200, blank=True)
    score = models.IntegerField(_("score"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.NEW
    )
    tags = ArrayField(
        models.CharField(max_length=40),
        verbose_name=_("tags"),
        null=True,
        blank=True,
        help_text=_("Labels for finding and grouping records, added from the list pages."),
    )
    owner = models.ForeignKey(
        User,
        verbose_name=_("owner"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        db_index=False,  # lead_owner_status starts with it
        related_name="leads",
    )
    created_on = models.DateField(_("created on"), default=today)
    handed_off_on = models.DateField(_("handed off on"), null=True, blank=True)
    accepted_on = models.DateField(_("accepted on"), null=True, blank=True)
    converted_on = models.DateField(_("converted on"), null=True, blank=True)
    disqualified_reason = models.CharField(_("disqualified because"), max_length=300, blank=True)
    converted_opportunity = models.ForeignKey(
        "pipeline.Opportunity",
        verbose_name=_("converted into"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="source_leads",
    )
    search = models.GeneratedField(
        expression=search_document(
            "first_name",
            "last_name",
            "email",
            email_domain("email"),
            "company",
        ),
        output_field=SearchVectorField(),
        db_persist=True,
    )

    objects = LeadQuerySet.as_manager()

    class Meta:
        ordering = ["-created_on", "-id"]
        verbose_name = _("lead")
        verbose_name_plural = _("leads")
        indexes = [
            GinIndex(fields=["tags"], name="lead_tags"),
            GinIndex(fields=["search"], name="lead_search_gin"),
            models.Index(fields=["owner", "status"], name="lead_owner_status"),
            models.Index(fields=["status", "-created_on"], name="lead_status_created"),
            models.Index(fields=["account", "-created_on"], name="lead_account_created"),
            models.Index(fields=["email"], name="lead_email"),
            # Newest first (the list, the search): read in order until the page is full.
            models.Index(fields=["-created_on", "-id"], name="lead_created"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    status__in=["new", "working", "mql", "sql", "converted", "disqualified"]
                ),
                name="lead_status_valid",
            ),
            models.CheckConstraint(
                condition=~Q(status="converted") | Q(converted_on__isnull=False),
                name="lead_converted_has_date",
            ),
            models.CheckConstraint(
                condition=Q(handed_off_on__isnull=True) | Q(handed_off_on__gte=F("created_on")),
                name="lead_handoff_after_creation",
            ),
            models.CheckConstraint(
                condition=Q(accepted_on__isnull=True)
                | (
                    Q(accepted_on__gte=F("created_on"))
                    & (Q(handed_off_on__isnull=True) | Q(accepted_on__gte=F("handed_off_on")))
                ),
                name="lead_accepted_in_order",
            ),
            models.CheckConstraint(
                condition=Q(converted_on__isnull=True)
                | (
                    Q(converted_on__gte=F("created_on"))
                    & (Q(handed_off_on__isnull=True) | Q(converted_on__gte=F("handed_off_on")))
                    & (Q(accepted_on__isnull=True) | Q(converted_on__gte=F("accepted_on")))
                ),
                name="lead_converted_in_order",
            ),
        ]

    def __str__(self):
        return self.display_name

    def get_absolute_url(self):
        return reverse("pipeline:lead-detail", args=[self.pk])

    @property
    def full_name(self):
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def display_name(self):
        return self.full_name or self.email or self.company or self.external_id


class HandoffQuerySet(models.QuerySet):
    def visible_to(self, user: User):
        """A handoff is seen by whoever may see its lead or its deal."""
        if not user.is_authenticated:
            return self.none()
        if user.role in User.READS_EVERY_DEAL_AND_LEAD:
            return self.filter(Q(lead__isnull=False) | Q(opportunity__account__is_deleted=False))
        return self.filter(
            Q(lead__in=Lead.objects.visible_to(user))
            | Q(opportunity__in=Opportunity.objects.visible_to(user))
        )

    def decidable_by(self, user: User):
        """Pending handoffs the user may accept or reject: reps those addressed to them or
        (unassigned) to their team; managers those to their team or one of its members."""
        pending = self.visible_to(user).filter(status=Handoff.Status.PENDING)
        if not user.is_authenticated:
            return pending
        if user.role == User.Role.ADMIN:
            return pending
        if user.role == User.Role.REP:
            return pending.filter(
                Q(to_user=user) | Q(to_team_id=user.team_id, to_user__isnull=True),
                kind=Handoff.Kind.LEAD_TO_SALES,
            )
        if user.role == User.Role.MANAGER and user.team_id:
            return pending.filter(
                Q(to_team_id=user.team_id) | Q(to_user__team_id=user.team_id),
                kind=Handoff.Kind.LEAD_TO_SALES,
            )
        if user.role == User.Role.CS:
            return pending.filter(
                Q(to_user=user) | Q(to_team_id=user.team_id, to_user__isnull=True),
                kind=Handoff.Kind.DEAL_TO_CS,
            )
        return pending.none()


@pghistory.track(
    pghistory.InsertEvent("change"),
    pghistory.UpdateEvent("change"),
    fields=["status", "to_team", "to_user", "reason"],
    model_name="HandoffEvent",
)
class Handoff(models.Model):
    """One team handing a customer to the next: marketing → sales (a lead) now, sales →
    customer success (a won deal) later. One model, one queue per receiving team, one SLA.
    """

    class Kind(models.TextChoices):
        LEAD_TO_SALES = "lead_to_sales", _("Lead to sales")
        DEAL_TO_CS = "deal_to_cs", _("Won deal to customer success")

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting")
        ACCEPTED = "accepted", _("Accepted")
        REJECTED = "rejected", _("Rejected")

    class Sla(models.TextChoices):
        ON_TIME = "on_time", _("On time")
        DUE_SOON = "due_soon", _("Due soon")
        BREACHED = "breached", _("Breached")

    external_id = models.CharField(
        _("external id"), max_length=100, unique=True, default=handoff_external_id
    )
    kind = models.CharField(_("kind"), max_length=32, choices=Kind.choices)
    lead = models.ForeignKey(
        Lead,
        verbose_name=_("lead"),
        on_delete=models.CASCADE,
        related_name="handoffs",
        null=True,
        blank=True,
    )
    opportunity = models.ForeignKey(
        "pipeline.Opportunity",
        verbose_name=_("deal"),
        on_delete=models.CASCADE,
        related_name="handoffs",
        null=True,
        blank=True,
    )
    from_user = models.ForeignKey(
        User,
        verbose_name=_("handed off by"),
        on_delete=models.SET_NULL,
        null=True,
        related_name="handoffs_sent",
    )
    to_team = models.ForeignKey(
        Team, verbose_name=_("to team"), on_delete=models.PROTECT, related_name="handoffs"
    )
    to_user = models.ForeignKey(
        User,
        verbose_name=_("to"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="handoffs_received",
    )
    note = models.TextField(_("note"), blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.PENDING
    )
    created_at = models.DateTimeField(_("handed off at"), default=timezone.now)
    sla_due_at = models.DateTimeField(_("accept by"))
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decided_by = models.ForeignKey(
        User,
        verbose_name=_("decided by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    reason = models.TextField(_("reason"), blank=True)

    objects = HandoffQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("handoff")
        verbose_name_plural = _("handoffs")
        indexes = [
            models.Index(fields=["to_team", "status", "sla_due_at"], name="handoff_queue"),
            models.Index(fields=["to_user", "status"], name="handoff_to_user"),
            models.Index(fields=["lead", "-created_at"], name="handoff_lead"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="pending") | Q(decided_at__isnull=False),
                name="handoff_decided_has_time",
            ),
            models.CheckConstraint(
                condition=~Q(status="rejected") | ~Q(reason=""),
                name="handoff_rejection_has_reason",
            ),
            models.UniqueConstraint(
                fields=["lead"],
                condition=Q(status="pending"),
                name="handoff_one_pending_per_lead",
            ),
            models.UniqueConstraint(
                fields=["opportunity"],
                condition=Q(kind="deal_to_cs"),
                name="handoff_one_per_won_deal",
            ),
            models.CheckConstraint(
                condition=Q(kind="lead_to_sales", lead__isnull=False, opportunity__isnull=True)
                | Q(kind="deal_to_cs", opportunity__isnull=False, lead__isnull=True),
                name="handoff_subject_matches_kind",
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.subject}"

    def get_absolute_url(self):
        if self.kind == self.Kind.LEAD_TO_SALES:
            return reverse("pipeline:lead-detail", args=[self.lead_id])
        return reverse("pipeline:handoff-detail", args=[self.pk])

    @property
    def subject(self):
        return self.lead if self.kind == self.Kind.LEAD_TO_SALES else self.opportunity

    def sla_state(self, now=None):
        """On time, due soon (the last quarter of the window) or breached; decided
        handoffs report whether they were decided in time."""
        now = now or timezone.now()
        moment = self.decided_at or now
        if moment > self.sla_due_at:
            return self.Sla.BREACHED
        if self.decided_at is None:
            window = self.sla_due_at - self.created_at
            if self.sla_due_at - now <= max(window / 4, timedelta(hours=1)):
                return self.Sla.DUE_SOON
        return self.Sla.ON_TIME


class Pipeline(models.Model):
    """A sequence of stages a deal moves through (several allowed; "Sales" by default)."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    is_default = models.BooleanField(_("default"), default=False)

    class Meta:
        ordering = ["-is_default", "name"]
        verbose_name = _("pipeline")
        verbose_name_plural = _("pipelines")
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=Q(is_default=True), name="pipeline_one_default"
            )
        ]

    def __str__(self):
        return self.name

    @classmethod
    def default(cls):
        return cls.objects.filter(is_default=True).first() or cls.objects.order_by("pk").first()


class Stage(models.Model):
    """A step of a pipeline; its outcome says whether a deal in it is open, won or lost."""

    class Outcome(models.TextChoices):
        OPEN = "open", _("Open")
        WON = "won", _("Won")
        LOST = "lost", _("Lost")

    pipeline = models.ForeignKey(
        Pipeline, verbose_name=_("pipeline"), on_delete=models.CASCADE, related_name="stages"
    )
    name = models.CharField(_("name"), max_length=100)
    position = models.IntegerField(_("position"))
    probability = models.DecimalField(
        _("probability"), max_digits=13, decimal_places=12, help_text=_("Between 0 and 1.")
    )
    outcome = models.CharField(
        _("outcome"), max_length=8, choices=Outcome.choices, default=Outcome.OPEN
    )

    class Meta:
        ordering = ["pipeline", "position", "pk"]
        verbose_name = _("stage")
        verbose_name_plural = _("stages")
        constraints = [
            models.UniqueConstraint(fields=["pipeline", "name"], name="stage_unique_name"),
            models.CheckConstraint(
                condition=Q(probability__gte=0) & Q(probability__lte=1),
                name="stage_probability_0_1",
            ),
            models.CheckConstraint(
                condition=Q(outcome__in=["open", "won", "lost"]), name="stage_outcome_valid"
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def is_closed(self):
        return self.outcome != self.Outcome.OPEN


def opportunity_external_id():
    return f"opp-{uuid.uuid4().hex}"


MEDDIC_FIELDS = [
    "metrics",
    "economic_buyer",
    "decision_criteria",
    "decision_process",
    "identified_pain",
    "champion",
]


class OpportunityQuerySet(models.QuerySet):
    def visible_to(self, user: User):
        """Reps: their own. Managers: their team's. Marketers, CS, executives, admins:
        all (roles.md)."""
        if not user.is_authenticated:
            return self.none()
        # Not a join with every account: the few deleted ones, hashed once.
        alive = self.exclude(account_id__in=Account.objects.filter(is_deleted=True).values("pk"))
        if user.role in User.READS_EVERY_DEAL_AND_LEAD:
            return alive
        if user.role == User.Role.MANAGER and user.team_id:
            return alive.filter(owner__team_id=user.team_id)
        return alive.filter(owner=user)

    def editable_by(self, user: User):
        """Editing and moving stages: reps and CS their own, managers their team's, admins
        all; marketers and executives none."""
        qs = self.visible_to(user)
        if not user.is_authenticated:
            return qs
        if user.role == User.Role.ADMIN:
            return qs
        if user.role == User.Role.MANAGER and user.team_id:
            return qs.filter(owner__team_id=user.team_id)
        if user.role in (User.Role.REP, User.Role.CS):
            return qs.filter(owner=user)
        return qs.none()


@pghistory.track(
    pghistory.InsertEvent("change"),
    pghistory.UpdateEvent("change"),
    fields=[
        "owner",
        "stage",
        "status",
        "amount",
        "currency",
        "expected_close_on",
        "closed_on",
        "lost_reason",
    ],
    model_name="OpportunityEvent",
)
class Opportunity(models.Model):
    """A deal: an account buying something, moving through a pipeline's stages."""

    class Kind(models.TextChoices):
        NEW_BUSINESS = "new_business", _("New business")
        EXPANSION = "expansion", _("Expansion")
        RENEWAL = "renewal", _("Renewal")

    class ForecastCategory(models.TextChoices):
        PIPELINE = "pipeline", _("Pipeline")
        BEST_CASE = "best_case", _("Best case")
        COMMIT = "commit", _("Commit")
        OMITTED = "omitted", _("Omitted")

    external_id = models.CharField(
        _("external id"), max_length=100, unique=True, default=opportunity_external_id
    )
    account = models.ForeignKey(
        Account,
        verbose_name=_("account"),
        on_delete=models.PROTECT,
        related_name="opportunities",
    )
    name = models.CharField(_("name"), max_length=200)
    tags = ArrayField(
        models.CharField(max_length=40),
        verbose_name=_("tags"),
        null=True,
        blank=True,
        help_text=_("Labels for finding and grouping records, added from the list pages."),
    )
    owner = models.ForeignKey(
        User,
        verbose_name=_("owner"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="opportunities",
    )
    pipeline = models.ForeignKey(
        Pipeline,
        verbose_name=_("pipeline"),
        on_delete=models.PROTECT,
        related_name="opportunities",
    )
    stage = models.ForeignKey(
        Stage, verbose_name=_("stage"), on_delete=models.PROTECT, related_name="opportunities"
    )
    status = models.CharField(
        _("status"), max_length=8, choices=Stage.Outcome.choices, default=Stage.Outcome.OPEN
    )
    kind = models.CharField(
        _("kind"), max_length=16, choices=Kind.choices, default=Kind.NEW_BUSINESS
    )
    amount = models.DecimalField(_("amount"), max_digits=20, decimal_places=2)
    one_time_amount = models.DecimalField(
        _("one-time fees"), max_digits=20, decimal_places=2, null=True, blank=True
    )
    currency = models.CharField(_("currency"), max_length=3)
    contract_months = models.PositiveIntegerField(_("contract months"), null=True, blank=True)
    expected_close_on = models.DateField(_("expected close"), null=True, blank=True)
    forecast_category = models.CharField(
        _("forecast category"), max_length=16, choices=ForecastCategory.choices, blank=True
    )
    created_on = models.DateField(_("created on"), default=today)
    closed_on = models.DateField(_("closed on"), null=True, blank=True)
    lost_reason = models.CharField(_("lost because"), max_length=300, blank=True)
    primary_contact = models.ForeignKey(
        Contact,
        verbose_name=_("primary contact"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="opportunities",
    )
    metrics = models.TextField(_("metrics"), blank=True)
    economic_buyer = models.TextField(_("economic buyer"), blank=True)
    decision_criteria = models.TextField(_("decision criteria"), blank=True)
    decision_process = models.TextField(_("decision process"), blank=True)
    identified_pain = models.TextField(_("identified pain"), blank=True)
    champion = models.TextField(_("champion"), blank=True)
    stage_entered_on = models.DateField(_("in stage since"), default=today)
    version = models.PositiveIntegerField(_("version"), default=1)

    objects = OpportunityQuerySet.as_manager()

    class Meta:
        ordering = ["-created_on", "-id"]
        verbose_name = _("opportunity")
        verbose_name_plural = _("opportunities")
        indexes = [
            GinIndex(fields=["tags"], name="opportunity_tags"),
            models.Index(fields=["owner", "status", "stage"], name="opp_owner_status_stage"),
            models.Index(fields=["stage", "expected_close_on"], name="opp_stage_close"),
            models.Index(fields=["account", "-created_on"], name="opp_account_created"),
            models.Index(fields=["status", "closed_on"], name="opp_status_closed"),
            models.Index(fields=["-amount", "-id"], name="opp_amount"),
            # The board's counts and sums per stage, read from the index alone.
            models.Index(
                fields=["owner", "pipeline", "stage"],
                include=["amount", "currency", "account", "expected_close_on", "id"],
                condition=Q(status="open"),
                name="opp_open_board",
            ),
            # The won and lost columns: the deals closed since a day, newest first.
            models.Index(
                fields=["closed_on", "id"],
                include=["stage", "owner", "pipeline", "amount", "currency", "account"],
                condition=Q(status__in=["won", "lost"]),
                name="opp_closed_board",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="open", closed_on__isnull=True)
                | (Q(status__in=["won", "lost"]) & Q(closed_on__isnull=False)),
                name="opp_closed_on_only_when_closed",
            ),
            models.CheckConstraint(
                condition=Q(closed_on__isnull=True) | Q(closed_on__gte=F("created_on")),
                name="opp_closed_after_created",
            ),
            models.CheckConstraint(condition=Q(amount__gte=0), name="opp_amount_not_negative"),
            models.CheckConstraint(
                condition=Q(one_time_amount__isnull=True)
                | (Q(one_time_amount__gte=0) & Q(one_time_amount__lte=F("amount"))),
                name="opp_one_time_within_amount",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=["new_business", "expansion", "renewal"]),
                name="opp_kind_valid",
            ),
            models.CheckConstraint(
                condition=Q(
                    forecast_category__in=["", "pipeline", "best_case", "commit", "omitted"]
                ),
                name="opp_forecast_category_valid",
            ),
            models.CheckConstraint(condition=Q(version__gte=1), name="opp_version_positive"),
        ]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("pipeline:opportunity-detail", args=[self.pk])

    @property
    def meddic_score(self) -> int:
        """How many of the six MEDDIC fields are filled in."""
        return sum(1 for name in MEDDIC_FIELDS if getattr(self, name).strip())

    @property
    def days_in_stage(self) -> int:
        return (timezone.localdate() - self.stage_entered_on).days


class StageChange(models.Model):
    """The append-only ledger of stage moves: what KPIs read as "stage at D"."""

    opportunity = models.ForeignKey(
        Opportunity, on_delete=models.CASCADE, related_name="stage_changes"
    )
    from_stage = models.ForeignKey(
        Stage, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    to_stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="+")
    entered_on = models.DateField(_("entered on"))
    changed_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["entered_on", "pk"]
        verbose_name = _("stage change")
        verbose_name_plural = _("stage history")
        indexes = [
            models.Index(fields=["opportunity", "entered_on", "id"], name="stagechange_opp_day"),
        ]
        triggers = [
            pgtrigger.Protect(name="stagechange_append_only", operation=pgtrigger.Update),
        ]

    def __str__(self):
        return f"{self.opportunity} → {self.to_stage} ({self.entered_on})"


class StageHistoryEnd(models.Model):
    """The last row of a deal's stage history by the KPI rule (latest `entered_on`; on the
    same day, the stage with the larger position): its stage at any day from `entered_on`
    on. Kept by database triggers (migration 0006) on every stage-history insert or delete
    and every reordering of stages, never written by the app, so "stage at D" costs a join
    instead of a history lookup per deal (metrics.selectors.probability_at)."""

    opportunity = models.OneToOneField(
        Opportunity, on_delete=models.CASCADE, primary_key=True, related_name="history_end"
    )
    entered_on = models.DateField()
    stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name = _("last stage change")
        verbose_name_plural = _("last stage changes")

    def __str__(self):
        return f"{self.opportunity_id}: {self.stage_id} since {self.entered_on}"


class ChecklistTemplateItem(models.Model):
    """A step every sales → CS handoff lists (the admin edits the list)."""

    label = models.CharField(_("label"), max_length=200)
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["position", "pk"]
        verbose_name = _("handoff checklist step")
        verbose_name_plural = _("handoff checklist")

    def __str__(self):
        return self.label


class HandoffChecklistItem(models.Model):
    """One step of one handoff's checklist, ticked off by the receiving team."""

    handoff = models.ForeignKey(Handoff, on_delete=models.CASCADE, related_name="checklist")
    label = models.CharField(_("label"), max_length=200)
    position = models.PositiveSmallIntegerField(default=0)
    done = models.BooleanField(_("done"), default=False)
    done_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["position", "pk"]
        verbose_name = _("checklist item")
        verbose_name_plural = _("checklist items")

    def __str__(self):
        return self.label
