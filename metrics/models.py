"""Targets and numbers: quotas, KPI snapshots and what keeps them fresh."""

from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Now
from django.utils.translation import gettext_lazy as _

from revops.models import User


class QuotaQuerySet(models.QuerySet):
    def visible_to(self, user: User):
        """Reps: their own; managers: their team's; executives and admins: all (roles.md)."""
        if not user.is_authenticated:
            return self.none()
        if user.role in (User.Role.EXECUTIVE, User.Role.ADMIN):
            return self
        if user.role == User.Role.MANAGER and user.team_id:
            return self.filter(user__team_id=user.team_id)
        if user.role == User.Role.REP:
            return self.filter(user=user)
        return self.none()

    def editable_by(self, user: User):
        qs = self.visible_to(user)
        if not user.is_authenticated:
            return qs
        if user.role == User.Role.ADMIN:
            return qs
        if user.role == User.Role.MANAGER and user.team_id:
            return qs.filter(user__team_id=user.team_id)
        return qs.none()


class Quota(models.Model):
    """What a seller is expected to book in a period, in the base currency."""

    user = models.ForeignKey(
        User, verbose_name=_("seller"), on_delete=models.CASCADE, related_name="quotas"
    )
    period_start = models.DateField(_("period start"))
    period_end = models.DateField(_("period end"))
    amount = models.DecimalField(_("amount"), max_digits=20, decimal_places=2)

    objects = QuotaQuerySet.as_manager()

    class Meta:
        ordering = ["period_start", "user"]
        verbose_name = _("quota")
        verbose_name_plural = _("quotas")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "period_start", "period_end"], name="quota_unique_period"
            ),
            models.CheckConstraint(
                condition=Q(period_end__gte=F("period_start")), name="quota_period_ordered"
            ),
            models.CheckConstraint(condition=Q(amount__gte=0), name="quota_amount_not_negative"),
        ]

    def __str__(self):
        return f"{self.user} {self.period_start}–{self.period_end}: {self.amount}"


class KpiSnapshot(models.Model):
    """One KPI's value for a scope, as of a day, for the period of a grain and calendar that
    contains it (shared/spec/kpis.md). Recomputing upserts on the unique key, so a rerun
    overwrites and never duplicates; every day's value stays for the trend lines."""

    class ScopeKind(models.TextChoices):
        ORG = "org", _("Organisation")
        TEAM = "team", _("Team")
        OWNER = "owner", _("Owner")

    kpi = models.CharField(_("KPI"), max_length=40)
    grain = models.CharField(_("period"), max_length=8)
    calendar = models.CharField(_("calendar"), max_length=10)
    period_start = models.DateField(_("period start"))
    as_of = models.DateField(_("as of"))
    scope_kind = models.CharField(_("scope"), max_length=5, choices=ScopeKind.choices)
    # The team's or user's id; 0 for the organisation (a plain number: history outlives them).
    scope_id = models.IntegerField(_("scope id"), default=0)
    value = models.DecimalField(_("value"), max_digits=34, decimal_places=4, null=True, blank=True)
    formula_version = models.PositiveSmallIntegerField(_("formula version"))
    computed_at = models.DateTimeField(_("computed at"))

    class Meta:
        verbose_name = _("KPI snapshot")
        verbose_name_plural = _("KPI snapshots")
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "scope_kind",
                    "scope_id",
                    "grain",
                    "calendar",
                    "kpi",
                    "as_of",
                    "period_start",
                ],
                name="kpisnapshot_unique",
            ),
            models.CheckConstraint(
                condition=Q(grain__in=["month", "quarter", "year"]), name="kpisnapshot_grain"
            ),
            models.CheckConstraint(
                condition=Q(calendar__in=["gregorian", "jalali"]), name="kpisnapshot_calendar"
            ),
            models.CheckConstraint(
                condition=Q(as_of__gte=F("period_start")), name="kpisnapshot_in_period"
            ),
        ]
        indexes = [models.Index(fields=["-computed_at"], name="kpisnapshot_latest")]

    def __str__(self):
        return f"{self.kpi} {self.scope_kind}:{self.scope_id} {self.as_of} = {self.value}"


class KpiInputs(models.Model):
    """One owner's additive KPI inputs for today's periods (metrics/selectors.py), kept so
    that a change to one owner's records recomputes that owner and re-adds the teams and
    the organisation without querying everyone's records again. Only the latest day is
    kept."""

    as_of = models.DateField()
    # The owner's user id; 0 for records without an owner.
    owner_key = models.IntegerField()
    # {"month-gregorian": {input: "exact fraction", ...}, ...}
    inputs = models.JSONField()
    # {"month-gregorian": {breakdown: {key: ["number", ...]}}, ...}
    breakdowns = models.JSONField(default=dict)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["as_of", "owner_key"], name="kpiinputs_unique")
        ]

    def __str__(self):
        return f"KPI inputs of {self.owner_key} on {self.as_of}"


class KpiDirty(models.Model):
    """An owner whose KPI inputs changed since today's snapshots were computed, written by
    database triggers in the transaction of the change, whatever the path (pages, API,
    import, tasks, `queryset.update()`). `owner_key` is the user id, 0 for records without
    an owner, -1 for everyone (a change of rates or stage probabilities). The recompute
    deletes the rows it has read; rows committed meanwhile stay for the next run."""

    EVERYONE = -1
    NO_OWNER = 0

    owner_key = models.IntegerField()
    marked_at = models.DateTimeField(db_default=Now())

    def __str__(self):
        return f"KPI inputs of {self.owner_key} changed at {self.marked_at}"


class ForecastFreeze(models.Model):
    """The forecast KPIs as they stood on the first day of a period, written once and never
    overwritten, so forecast accuracy can be reported when the period closes."""

    kpi = models.CharField(max_length=40)
    grain = models.CharField(max_length=8)
    calendar = models.CharField(max_length=10)
    period_start = models.DateField()
    scope_kind = models.CharField(max_length=5, choices=KpiSnapshot.ScopeKind.choices)
    scope_id = models.IntegerField(default=0)
    value = models.DecimalField(max_digits=34, decimal_places=4, null=True, blank=True)
    frozen_at = models.DateTimeField(db_default=Now())

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["scope_kind", "scope_id", "grain", "calendar", "kpi", "period_start"],
                name="forecastfreeze_unique",
            )
        ]

    def __str__(self):
        return f"{self.kpi} {self.scope_kind}:{self.scope_id} frozen {self.period_start}"


class KpiBreakdown(models.Model):
    """A dashboard breakdown (metrics/breakdowns.py) for a scope, as of a day, for the period
    containing it: {key: [numbers]}. Written with the snapshots, upserted on the same key."""

    name = models.CharField(max_length=40)
    grain = models.CharField(max_length=8)
    calendar = models.CharField(max_length=10)
    period_start = models.DateField()
    as_of = models.DateField()
    scope_kind = models.CharField(max_length=5, choices=KpiSnapshot.ScopeKind.choices)
    scope_id = models.IntegerField(default=0)
    data = models.JSONField()
    computed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "scope_kind",
                    "scope_id",
                    "grain",
                    "calendar",
                    "name",
                    "as_of",
                    "period_start",
                ],
                name="kpibreakdown_unique",
            )
        ]

    def __str__(self):
        return f"{self.name} {self.scope_kind}:{self.scope_id} {self.as_of}"


class Goal(models.Model):
    """A shared target an executive sets for a KPI, a period and a scope (NRR ≥ 1.10 this
    quarter for the organisation, win rate ≥ 0.30 for a team…), shown on every dashboard
    with its progress."""

    class Comparison(models.TextChoices):
        AT_LEAST = "gte", _("at least")
        AT_MOST = "lte", _("at most")

    kpi = models.CharField(_("KPI"), max_length=40)
    grain = models.CharField(_("period"), max_length=8)
    calendar = models.CharField(_("calendar"), max_length=10)
    period_start = models.DateField(_("period start"))
    scope_kind = models.CharField(_("scope"), max_length=5, choices=KpiSnapshot.ScopeKind.choices)
    scope_id = models.IntegerField(_("scope id"), default=0)
    comparison = models.CharField(
        _("comparison"), max_length=3, choices=Comparison.choices, default=Comparison.AT_LEAST
    )
    target = models.DecimalField(_("target"), max_digits=24, decimal_places=4)
    created_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, related_name="+", verbose_name=_("set by")
    )
    created_at = models.DateTimeField(_("set at"), auto_now_add=True)

    class Meta:
        ordering = ["period_start", "kpi"]
        verbose_name = _("goal")
        verbose_name_plural = _("goals")
        constraints = [
            models.UniqueConstraint(
                fields=["kpi", "grain", "calendar", "period_start", "scope_kind", "scope_id"],
                name="goal_unique",
            )
        ]

    def __str__(self):
        return f"{self.kpi} {self.get_comparison_display()} {self.target}"
