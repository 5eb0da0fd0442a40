from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RevopsConfig(AppConfig):
    name = "revops"
    verbose_name = _("People and settings")

    def ready(self):
        from django.db.models import fields

        # Django's own catalogue has no Persian for the empty choice of a select list:
        # the label is ours (Django 6.1's documented override), so ours translates it.
        fields.BLANK_CHOICE_LABEL = _("- Select an option -")
