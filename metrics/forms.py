"""HTML forms of the metrics app."""

from django import forms
from django.utils.translation import gettext_lazy as _

from .dashboards import allowed_scopes
from .kpis import ORDER
from .labels import KPI_LABELS
from .models import Goal
from .periods import CALENDARS, GRAINS, period_start
from .queries import parse_date

GRAIN_LABELS = {"month": _("Month"), "quarter": _("Quarter"), "year": _("Year")}
CALENDAR_LABELS = {"gregorian": _("Gregorian"), "jalali": _("Jalali")}


class GoalForm(forms.Form):
    """A target for a KPI in a period and scope; the same KPI, period and scope again
    replaces the earlier target."""

    kpi = forms.ChoiceField(label=_("KPI"))
    comparison = forms.ChoiceField(label=_("Should be"), choices=Goal.Comparison.choices)
    target = forms.DecimalField(
        label=_("Target"),
        max_digits=24,
        decimal_places=4,
        help_text=_("Money in the base currency; ratios as decimals (0.30 = 30%); days."),
    )
    grain = forms.ChoiceField(label=_("Period"), choices=[(g, GRAIN_LABELS[g]) for g in GRAINS])
    calendar = forms.ChoiceField(
        label=_("Calendar"), choices=[(c, CALENDAR_LABELS[c]) for c in CALENDARS]
    )
    day = forms.CharField(
        label=_("A day in the period"), help_text=_("YYYY-MM-DD; its whole period is meant.")
    )
    scope = forms.ChoiceField(label=_("For"))

    def __init__(self, *args, view, user, **kwargs):
        initial = {
            "grain": view.grain,
            "calendar": view.calendar,
            "day": view.start.isoformat(),
            "scope": "org" if view.scope.kind == "org" else f"{view.scope.kind}:{view.scope.id}",
        }
        super().__init__(*args, initial=initial, **kwargs)
        self.user = user
        self.fields["kpi"].choices = [(key, KPI_LABELS[key]) for key in ORDER]
        self.fields["scope"].choices = allowed_scopes(user, view.scope)

    def clean_day(self):
        try:
            return parse_date(self.cleaned_data["day"])
        except ValueError:
            raise forms.ValidationError(_("Enter a date as YYYY-MM-DD.")) from None

    def save(self) -> Goal:
        data = self.cleaned_data
        kind, _sep, number = data["scope"].partition(":")
        start = period_start(data["grain"], data["day"], data["calendar"])
        goal, _created = Goal.objects.update_or_create(
            kpi=data["kpi"],
            grain=data["grain"],
            calendar=data["calendar"],
            period_start=start,
            scope_kind=kind,
            scope_id=int(number or 0),
            defaults={
                "comparison": data["comparison"],
                "target": data["target"],
                "created_by": self.user,
            },
        )
        return goal
