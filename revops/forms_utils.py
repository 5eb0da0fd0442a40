import itertools

from django import forms

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
