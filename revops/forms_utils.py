import datetime
import itertools
from decimal import InvalidOperation

from django import forms
from django.db import models
from django.utils.translation import gettext_lazy as _

from . import l10n

MAX_OPTIONS = 300


def capped_choices(field: forms.ModelChoiceField, selected=None) -> forms.ModelChoiceField:
    """Let the field's select list at most MAX_OPTIONS choices (plus the chosen one), so a
    form stays light with a hundred thousand accounts; the field still validates against
    its whole queryset."""
    choices = list(itertools.islice(field.choices, MAX_OPTIONS + 1))
    if selected is not None and all(str(value) != str(selected.pk) for value, _ in choices):
        choices.append((selected.pk, field.label_from_instance(selected)))
    field.widget.choices = choices
    return field


# --- Dates and amounts typed the user's way (revops/l10n.py) ---------------------------------


class LocalDateInput(forms.DateInput):
    """The browser's date picker for Gregorian users; for Jalali ones a text box showing and
    taking YYYY/MM/DD in the Jalali calendar (Persian, Arabic or Latin digits)."""

    def format_value(self, value):
        return l10n.input_day(value)

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        widget = context["widget"]
        if l10n.display().calendar == "jalali":
            widget["type"] = "text"
            widget["attrs"].setdefault("placeholder", "1405/04/09")
            widget["attrs"].setdefault("inputmode", "numeric")
            widget["attrs"].setdefault("dir", "ltr")
        else:
            widget["type"] = "date"
        return context


class LocalDateField(forms.DateField):
    """A date typed as YYYY-MM-DD or YYYY/MM/DD, Jalali when its year is before 1700, in any
    digits; stored as the Gregorian date."""

    widget = LocalDateInput

    def to_python(self, value):
        if value in self.empty_values:
            return None
        if isinstance(value, datetime.date):
            return value
        try:
            return l10n.parse_day(value)
        except ValueError:
            raise forms.ValidationError(
                _("Enter a date as YYYY-MM-DD, or YYYY/MM/DD in the Jalali calendar."),
                code="invalid",
            ) from None


class LocalDecimalField(forms.DecimalField):
    """An amount typed with Persian, Arabic or Latin digits and thousands separators."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.widget.input_type = "text"
        self.widget.attrs.setdefault("inputmode", "decimal")
        self.widget.attrs.pop("step", None)

    def to_python(self, value):
        if isinstance(value, str) and value.strip():
            try:
                value = str(l10n.parse_amount(value))
            except (InvalidOperation, ValueError):
                raise forms.ValidationError(
                    self.error_messages["invalid"], code="invalid"
                ) from None
        return super().to_python(value)


class LocalIntegerField(forms.IntegerField):
    """A whole number typed with Persian, Arabic or Latin digits. A text box: a number
    input takes Latin digits only (Chromium leaves it empty when Persian ones are typed)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.widget.input_type = "text"
        self.widget.attrs.setdefault("inputmode", "numeric")

    def to_python(self, value):
        if isinstance(value, str):
            value = l10n.digits_to_latin(value)
        return super().to_python(value)


def local_formfield(field, **kwargs):
    """`formfield_callback` for model forms: dates, amounts and numbers the user's way."""
    if isinstance(field, models.DateField) and not isinstance(field, models.DateTimeField):
        kwargs.setdefault("form_class", LocalDateField)
        kwargs.setdefault("widget", LocalDateInput)
    elif isinstance(field, models.DecimalField):
        kwargs.setdefault("form_class", LocalDecimalField)
    elif isinstance(field, models.IntegerField) and not field.choices:
        kwargs.setdefault("form_class", LocalIntegerField)
    return field.formfield(**kwargs)
