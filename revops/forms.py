from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Calendar, Notification, Organisation, User


class ProfileForm(forms.ModelForm):
    class Meta:
        model = User
        fields = [
            "full_name",
            "language",
            "calendar",
            "latin_digits",
            "toman",
            "email_notifications",
        ]
        widgets = {"email_notifications": forms.CheckboxSelectMultiple}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        org_calendar = Calendar(Organisation.get().calendar).label
        self.fields["calendar"].choices = [
            ("", _("The organisation's (%(calendar)s)") % {"calendar": org_calendar}),
            *Calendar.choices,
        ]
        self.fields["email_notifications"] = forms.MultipleChoiceField(
            label=_("Notifications by e-mail"),
            choices=Notification.Kind.choices,
            widget=forms.CheckboxSelectMultiple,
            required=False,
            help_text=_("Every notification shows under the bell; these also come by e-mail."),
        )

    def clean_full_name(self):
        name = self.cleaned_data["full_name"].strip()
        if not name:
            raise forms.ValidationError(forms.Field.default_error_messages["required"])
        return name


class LanguageForm(forms.Form):
    language = forms.ChoiceField(choices=User.Language.choices)
    next = forms.CharField(required=False)
