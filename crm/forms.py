import re

from django import forms
from django.utils.translation import gettext_lazy as _

from revops.currencies import CHOICES as CURRENCY_CHOICES
from revops.forms_utils import (
    LocalDateField,
    LocalDateInput,
    LocalDecimalField,
    capped_choices,
    local_formfield,
)
from revops.models import User
from revops.rules import assignable_owners

from .models import Account, Activity, ChurnReason, Contact

_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9\u00a1-\uffff-]{1,63}\.)+[a-z\u00a1-\uffff]{2,63}$")


def clean_domain(value: str) -> str:
    """`https://www.Example.com/about` → `example.com`."""
    value = (value or "").strip().lower()
    value = re.sub(r"^[a-z]+://", "", value).split("/")[0].split("?")[0]
    value = value.removeprefix("www.")
    if value and not _DOMAIN.match(value):
        raise forms.ValidationError(_("Enter a domain such as example.com."))
    return value


class StrippedModelForm(forms.ModelForm):
    def __init__(self, *args, user, **kwargs):
        self.user = user
        super().__init__(*args, **kwargs)


class AccountForm(StrippedModelForm):
    class Meta:
        formfield_callback = local_formfield
        model = Account
        fields = ["name", "domain", "industry", "country", "owner"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        owners = assignable_owners(self.user, "account")
        self.fields["owner"].queryset = owners
        self.fields["owner"].required = True
        if not self.instance.pk:
            self.initial.setdefault("owner", self.user.pk)
        capped_choices(self.fields["owner"], self.instance.owner if self.instance.pk else None)

    def clean_domain(self):
        return clean_domain(self.cleaned_data["domain"])


def contact_email_taken(account, email, instance=None) -> bool:
    """The pages and API keep a contact's e-mail unique within its account (imports may
    bring duplicates, which are flagged instead)."""
    others = Contact.objects.alive().filter(account=account, email__iexact=email)
    if instance is not None and instance.pk:
        others = others.exclude(pk=instance.pk)
    return others.exists()


class ContactForm(StrippedModelForm):
    class Meta:
        formfield_callback = local_formfield
        model = Contact
        fields = ["account", "first_name", "last_name", "email", "phone", "title", "persona"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        accounts = Account.objects.editable_by(self.user)
        self.fields["account"].queryset = accounts
        capped_choices(self.fields["account"], self.instance.account if self.instance.pk else None)

    def clean_email(self):
        return self.cleaned_data["email"].strip().lower()

    def clean(self):
        data = super().clean()
        account, email = data.get("account"), data.get("email")
        if account and email and contact_email_taken(account, email, self.instance):
            self.add_error("email", _("Another contact of this account has this e-mail."))
        return data


class ActivityForm(StrippedModelForm):
    class Meta:
        formfield_callback = local_formfield
        model = Activity
        fields = [
            "kind",
            "subject",
            "body",
            "occurred_on",
            "due_on",
            "done",
            "account",
            "contact",
            "lead",
            "opportunity",
        ]
        widgets = {
            "occurred_on": LocalDateInput(),
            "due_on": LocalDateInput(),
            "body": forms.Textarea(attrs={"rows": 4}),
        }

    assignee = forms.ModelChoiceField(
        queryset=None,
        required=False,
        label=_("Assigned to"),
        help_text=_("Tasks only: who must do it (you, unless you lead a team)."),
    )

    def __init__(self, *args, **kwargs):
        from pipeline.models import Lead, Opportunity

        super().__init__(*args, **kwargs)
        assignees = assignable_owners(self.user, "activity")
        self.fields["assignee"].queryset = assignees
        # Only a manager or an administrator has anyone else to choose: no query for the rest.
        people = (
            assignees.order_by("full_name")
            if self.user.role in (User.Role.MANAGER, User.Role.ADMIN)
            else [self.user]
        )
        self.fields["assignee"].choices = [(user.pk, str(user)) for user in people]
        self.fields["assignee"].initial = (
            self.instance.owner_id if self.instance.pk else self.user.pk
        )
        self.fields["opportunity"].queryset = Opportunity.objects.visible_to(self.user)
        self.fields["account"].queryset = Account.objects.visible_to(self.user)
        self.fields["contact"].queryset = Contact.objects.visible_to(self.user)
        self.fields["lead"].queryset = Lead.objects.visible_to(self.user)
        for name in ("account", "contact", "lead", "opportunity"):
            current = getattr(self.instance, name) if self.instance.pk else None
            capped_choices(self.fields[name], current)

    def clean(self):
        data = super().clean()
        deal = data.get("opportunity")
        if deal and not data.get("account"):
            data["account"] = deal.account
        if not any(data.get(name) for name in ("account", "contact", "lead", "opportunity")):
            raise forms.ValidationError(_("Link the activity to an account, contact or lead."))
        if data.get("kind") != Activity.Kind.TASK and data.get("due_on"):
            self.add_error("due_on", _("Only tasks have a due date."))
        assignee = data.get("assignee")
        is_task = data.get("kind") == Activity.Kind.TASK
        if assignee is not None and not is_task and assignee.pk != self.instance_owner_pk():
            self.add_error("assignee", _("Only tasks are assigned to someone."))
        contact, account = data.get("contact"), data.get("account")
        if contact and contact.account_id and account and contact.account_id != account.pk:
            self.add_error("contact", _("This contact belongs to another account."))
        if contact and contact.account_id and not account:
            data["account"] = contact.account
        return data

    def instance_owner_pk(self):
        return self.instance.owner_id if self.instance.pk else self.user.pk

    def save(self, commit=True):
        """A task goes to its assignee; other activities stay with their owner."""
        activity = super().save(commit=False)
        assignee = self.cleaned_data.get("assignee")
        if activity.kind == Activity.Kind.TASK and assignee is not None:
            activity.owner = assignee
        elif not activity.owner_id:
            activity.owner = self.user
        if commit:
            activity.save()
        return activity


class TaskQuickForm(ActivityForm):
    """Add a task from a record's page: what, by when, for whom; the record is given."""

    class Meta(ActivityForm.Meta):
        fields = ["subject", "due_on", "account", "contact", "lead", "opportunity"]
        widgets = {
            "due_on": LocalDateInput(),
            "account": forms.HiddenInput,
            "contact": forms.HiddenInput,
            "lead": forms.HiddenInput,
            "opportunity": forms.HiddenInput,
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.instance.kind = Activity.Kind.TASK
        self.fields["due_on"].required = True
        self.fields["assignee"].required = True
        self.fields["assignee"].help_text = ""

    def clean(self):
        self.cleaned_data["kind"] = Activity.Kind.TASK
        return super().clean()


class SubscriptionForm(forms.Form):
    product = forms.CharField(max_length=200, label=_("Product"))
    mrr = LocalDecimalField(
        max_digits=20, decimal_places=2, min_value=0, label=_("Monthly recurring revenue")
    )
    currency = forms.ChoiceField(choices=CURRENCY_CHOICES, label=_("Currency"))
    start_on = LocalDateField(label=_("Starts on"), widget=LocalDateInput())
    end_on = LocalDateField(required=False, label=_("Ends on"), widget=LocalDateInput())

    def clean(self):
        data = super().clean()
        if data.get("end_on") and data.get("start_on") and data["end_on"] <= data["start_on"]:
            self.add_error("end_on", _("A subscription ends after it starts."))
        return data


class PlanChangeForm(forms.Form):
    mrr = LocalDecimalField(max_digits=20, decimal_places=2, min_value=0)
    on = LocalDateField()
    product = forms.CharField(max_length=200, required=False)


class CancelForm(forms.Form):
    on = LocalDateField()
    reason = forms.ModelChoiceField(queryset=ChurnReason.objects.all())
    note = forms.CharField(max_length=2000, required=False)
