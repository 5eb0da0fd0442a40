from django import forms
from django.utils.translation import gettext_lazy as _

from crm.models import Account, Contact
from revops.currencies import CHOICES as CURRENCY_CHOICES
from revops.forms_utils import (
    LocalDateField,
    LocalDateInput,
    LocalDecimalField,
    capped_choices,
    local_formfield,
)
from revops.models import Organisation, Team, User
from revops.money import currency_problem
from revops.rules import assignable_owners

from .models import MEDDIC_FIELDS, Lead, Opportunity, Pipeline, Stage


class LeadForm(forms.ModelForm):
    # Reaching these statuses goes through the handoff (mql, sql) or conversion.
    EDITABLE_STATUSES = [Lead.Status.NEW, Lead.Status.WORKING, Lead.Status.DISQUALIFIED]

    # What the user saw when the form was loaded: an owner or status changed since (a
    # handoff accepted, a reassignment) is not silently overwritten.
    loaded_state = forms.CharField(widget=forms.HiddenInput, required=False)

    class Meta:
        formfield_callback = local_formfield
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
        if current is None or current in self.EDITABLE_STATUSES:
            statuses = self.EDITABLE_STATUSES
        else:
            # Handed off, accepted or converted: the workflow moves it, not this form.
            statuses = [Lead.Status(current)]
            self.fields["status"].disabled = True
        self.fields["status"].choices = [(s.value, s.label) for s in statuses]
        if not self.instance.pk:
            self.initial.setdefault("owner", user.pk)
        else:
            self.initial["loaded_state"] = self._state(self.instance)
        capped_choices(self.fields["owner"], self.instance.owner if self.instance.pk else None)
        capped_choices(self.fields["account"], self.instance.account if self.instance.pk else None)

    @staticmethod
    def _state(lead):
        return f"{lead.owner_id or ''}:{lead.status}"

    def clean_email(self):
        return self.cleaned_data["email"].strip().lower()

    def clean(self):
        data = super().clean()
        loaded = data.get("loaded_state")
        if (
            self.instance.pk
            and loaded
            and loaded != self._state(Lead.objects.only("owner", "status").get(pk=self.instance.pk))
        ):
            raise forms.ValidationError(
                _(
                    "Someone changed this lead's owner or status while you were editing it. "
                    "Reload the page to see the change, then edit again."
                )
            )
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
    # A won deal's draft subscription, confirmed (and possibly corrected) on acceptance.
    product = forms.CharField(max_length=200, required=False, label=_("Product"))
    mrr = LocalDecimalField(
        max_digits=20,
        decimal_places=2,
        min_value=0,
        required=False,
        label=_("Monthly recurring revenue"),
    )
    start_on = LocalDateField(required=False, label=_("Starts on"), widget=LocalDateInput())

    def __init__(self, *args, receivers=None, with_subscription=False, **kwargs):
        super().__init__(*args, **kwargs)
        if receivers is not None:
            self.fields["assignee"].queryset = receivers
        if not with_subscription:
            for name in ("product", "mrr", "start_on"):
                self.fields[name].widget = forms.HiddenInput()


class RejectForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), label=_("Why is it rejected?"), max_length=2000
    )


class OpportunityForm(forms.ModelForm):
    """Create and edit a deal. `version` is the precondition of an edit: the version the
    user loaded, never assigned to the record."""

    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    class Meta:
        formfield_callback = local_formfield
        model = Opportunity
        fields = [
            "name",
            "account",
            "primary_contact",
            "owner",
            "stage",
            "kind",
            "amount",
            "one_time_amount",
            "currency",
            "contract_months",
            "expected_close_on",
            "forecast_category",
            "closed_on",
            "lost_reason",
            *MEDDIC_FIELDS,
        ]
        widgets = {
            "expected_close_on": LocalDateInput(),
            "closed_on": LocalDateInput(),
            **{name: forms.Textarea(attrs={"rows": 2}) for name in MEDDIC_FIELDS},
        }

    def __init__(self, *args, user, **kwargs):
        self.user = user
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = assignable_owners(user, "opportunity")
        self.fields["owner"].required = True
        self.fields["account"].queryset = Account.objects.visible_to(user)
        self.fields["primary_contact"].queryset = Contact.objects.visible_to(user)
        self.fields["stage"].queryset = Stage.objects.select_related("pipeline")
        self.fields["stage"].label_from_instance = lambda s: f"{s.pipeline} · {s.name}"
        self.fields["currency"] = forms.ChoiceField(
            choices=CURRENCY_CHOICES, label=self.fields["currency"].label
        )
        if not self.instance.pk:
            self.initial.setdefault("owner", user.pk)
            self.initial.setdefault("currency", Organisation.get().base_currency)
            default = Pipeline.default()
            if default:
                first = default.stages.filter(outcome="open").order_by("position").first()
                self.initial.setdefault("stage", first.pk if first else None)
        else:
            self.initial["version"] = self.instance.version
        for name in ("owner", "account", "primary_contact"):
            current = getattr(self.instance, name) if self.instance.pk else None
            capped_choices(self.fields[name], current)

    def clean_currency(self):
        currency = self.cleaned_data["currency"]
        if problem := currency_problem(currency):
            raise forms.ValidationError(problem)
        return currency

    def clean(self):
        data = super().clean()
        amount, one_time = data.get("amount"), data.get("one_time_amount")
        if amount is not None and amount < 0:
            self.add_error("amount", _("An amount cannot be negative."))
        if one_time is not None:
            if one_time < 0:
                self.add_error("one_time_amount", _("An amount cannot be negative."))
            elif amount is not None and one_time > amount:
                self.add_error(
                    "one_time_amount", _("One-time fees cannot exceed the deal's amount.")
                )
        contact, account = data.get("primary_contact"), data.get("account")
        if contact and account and contact.account_id not in (None, account.pk):
            self.add_error("primary_contact", _("This contact belongs to another account."))
        stage = data.get("stage")
        if stage and stage.outcome == "lost" and not (data.get("lost_reason") or "").strip():
            self.add_error("lost_reason", _("Say why the deal was lost."))
        return data


class MoveForm(forms.Form):
    stage = forms.ModelChoiceField(queryset=Stage.objects.all(), label=_("Stage"))
    version = forms.IntegerField(widget=forms.HiddenInput)
    closed_on = LocalDateField(required=False, label=_("Closed on"), widget=LocalDateInput())
    lost_reason = forms.CharField(required=False, max_length=300, label=_("Lost because"))


class ConvertForm(forms.Form):
    account = forms.ModelChoiceField(
        queryset=Account.objects.none(),
        required=False,
        label=_("Existing account"),
        help_text=_("Leave empty to create an account from the lead."),
    )
    contact = forms.ModelChoiceField(
        queryset=Contact.objects.none(),
        required=False,
        label=_("Existing contact"),
        help_text=_("Leave empty to create a contact from the lead."),
    )
    name = forms.CharField(max_length=200, label=_("Deal name"))
    amount = LocalDecimalField(
        max_digits=20,
        decimal_places=2,
        min_value=0,
        label=_("Amount"),
        required=False,
        help_text=_("Leave empty to estimate it later."),
    )
    currency = forms.ChoiceField(choices=CURRENCY_CHOICES, label=_("Currency"))
    expected_close_on = LocalDateField(
        required=False, label=_("Expected close"), widget=LocalDateInput()
    )
    stage = forms.ModelChoiceField(
        queryset=Stage.objects.filter(outcome="open").select_related("pipeline"),
        label=_("Stage"),
    )

    def __init__(self, *args, user, matches, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["account"].queryset = Account.objects.visible_to(user)
        self.fields["contact"].queryset = Contact.objects.visible_to(user)
        self.fields["account"].widget.choices = [("", _("— create a new account —"))] + [
            (a.pk, f"{a.name} ({a.domain})" if a.domain else a.name) for a in matches["accounts"]
        ]
        self.fields["contact"].widget.choices = [("", _("— create a new contact —"))] + [
            (c.pk, f"{c.full_name} <{c.email}>") for c in matches["contacts"]
        ]
        self.fields["stage"].label_from_instance = lambda s: f"{s.pipeline} · {s.name}"

    def clean_currency(self):
        currency = self.cleaned_data["currency"]
        if problem := currency_problem(currency):
            raise forms.ValidationError(problem)
        return currency

    def clean(self):
        data = super().clean()
        contact, account = data.get("contact"), data.get("account")
        if contact and account and contact.account_id not in (None, account.pk):
            self.add_error("contact", _("This contact belongs to another account."))
        if contact and not account and contact.account_id:
            data["account"] = contact.account
        return data
