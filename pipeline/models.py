"""Marketing's side of the funnel: leads, and the handoffs between teams.

Visibility and edit rights follow shared/spec/roles.md in the QuerySet methods below.
"""

import uuid
from datetime import timedelta

import pghistory
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.models import Account, search_document, today
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
        if user.role in (User.Role.MARKETER, User.Role.CS, User.Role.EXECUTIVE, User.Role.ADMIN):
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
    email = models.EmailField(_("e-mail"), max_length=254, blank=True, db_index=True)
    company = models.CharField(_("company"), max_length=200, blank=True)
    account = models.ForeignKey(
        Account,
        verbose_name=_("account"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
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
    owner = models.ForeignKey(
        User,
        verbose_name=_("owner"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="leads",
    )
    created_on = models.DateField(_("created on"), default=today)
    handed_off_on = models.DateField(_("handed off on"), null=True, blank=True)
    accepted_on = models.DateField(_("accepted on"), null=True, blank=True)
    converted_on = models.DateField(_("converted on"), null=True, blank=True)
    disqualified_reason = models.CharField(_("disqualified because"), max_length=300, blank=True)
    search = models.GeneratedField(
        expression=search_document(
            "first_name",
            "last_name",
            "email",
            models.Func(
                "email",
                models.Value("@"),
                models.Value(2),
                function="split_part",
                output_field=models.TextField(),
            ),
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
            GinIndex(fields=["search"], name="lead_search_gin"),
            models.Index(fields=["owner", "status"], name="lead_owner_status"),
            models.Index(fields=["status", "-created_on"], name="lead_status_created"),
            models.Index(fields=["account", "-created_on"], name="lead_account_created"),
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
        """A handoff is seen by whoever may see its lead."""
        if not user.is_authenticated:
            return self.none()
        return self.filter(lead__in=Lead.objects.visible_to(user))

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
            return pending.filter(Q(to_team_id=user.team_id) | Q(to_user__team_id=user.team_id))
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
        Lead, verbose_name=_("lead"), on_delete=models.CASCADE, related_name="handoffs"
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
        ]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.lead}"

    def get_absolute_url(self):
        return reverse("pipeline:lead-detail", args=[self.lead_id])

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
