"""Targets and numbers: quotas now; KPI snapshots arrive with the KPI engine."""

from django.db import models
from django.db.models import F, Q
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
