from django import forms
from django.utils.translation import gettext_lazy as _

from crm.models import Account
from revops.forms_utils import capped_choices
from revops.models import Team, User
from revops.rules import assignable_owners

from .models import Lead


class LeadForm(forms.ModelForm):
    # Reaching these statuses goes through the handoff (mql, sql) or conversion.
    EDITABLE_STATUSES = [Lead.Status.NEW, Lead.Status.WORKING, Lead.Status.DISQUALIFIED]

    class Meta:
        model = Lead
        fields = [
            "first_name",
            "last_name",
            "email",
            "company",
            "account",
            "source",
            "utm_source",
            "utm_medium",
            "utm_campaign",
            "score",
            "status",
            "disqualified_reason",
            "owner",
        ]

    def __init__(self, *args, user, **kwargs):
        self.user = user
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = assignable_owners(user, "lead")
        self.fields["account"].queryset = Account.objects.visible_to(user)
        current = self.instance.status if self.instance.pk else None
        statuses = [s for s in Lead.Status if s in self.EDITABLE_STATUSES or s == current]
        self.fields["status"].choices = [(s.value, s.label) for s in statuses]
        if not self.instance.pk:
            self.initial.setdefault("owner", user.pk)
        capped_choices(self.fields["owner"], self.instance.owner if self.instance.pk else None)
        capped_choices(self.fields["account"], self.instance.account if self.instance.pk else None)

    def clean_email(self):
        return self.cleaned_data["email"].strip().lower()

    def clean(self):
        data = super().clean()
        if not any(data.get(n) for n in ("first_name", "last_name", "email", "company")):
            raise forms.ValidationError(_("Give the lead a name, an e-mail or a company."))
        if data.get("status") == Lead.Status.DISQUALIFIED and not data.get("disqualified_reason"):
            self.add_error("disqualified_reason", _("Say why the lead is disqualified."))
        score = data.get("score")
        if score is not None and not 0 <= score <= 100:
            self.add_error("score", _("A score is between 0 and 100."))
        return data


class HandoffForm(forms.Form):
    to_team = forms.ModelChoiceField(
        queryset=Team.objects.filter(kind=Team.Kind.SALES), label=_("Sales team")
    )
    to_user = forms.ModelChoiceField(
        queryset=User.objects.filter(
            is_active=True, role__in=[User.Role.REP, User.Role.MANAGER], team__kind="sales"
        ).select_related("team"),
        required=False,
        label=_("Rep (optional)"),
        help_text=_("Leave empty to let the team pick it up."),
    )
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), required=False, label=_("Note for sales")
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["to_user"].label_from_instance = lambda u: f"{u.full_name} ({u.team})"


class AcceptForm(forms.Form):
    assignee = forms.ModelChoiceField(
        queryset=User.objects.none(), required=False, label=_("Assign to")
    )

    def __init__(self, *args, receivers=None, **kwargs):
        super().__init__(*args, **kwargs)
        if receivers is not None:
            self.fields["assignee"].queryset = receivers


class RejectForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), label=_("Why is it rejected?"), max_length=2000
    )
