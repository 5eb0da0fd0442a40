from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RevopsConfig(AppConfig):
    name = "revops"
    verbose_name = _("People and settings")
