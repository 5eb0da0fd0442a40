from django.apps import AppConfig, apps
from django.db.models.signals import post_delete, post_save
from django.utils.translation import gettext_lazy as _

# Models whose writes change KPI inputs. Database triggers record *what* changed
# (metrics/migrations/0003); these signals only wake the worker once the write commits.
# Writes that bypass signals (bulk imports, `queryset.update()`) are caught by the beat
# sweep within a minute, or call `kpi_refresh_soon()` themselves.
KPI_INPUT_MODELS = (
    "pipeline.Opportunity",
    "pipeline.StageChange",
    "pipeline.Lead",
    "pipeline.Stage",
    "crm.Subscription",
    "crm.Account",
    "metrics.Quota",
    "revops.FxRate",
    "revops.Organisation",
)


def _wake(sender, **kwargs):
    from .services import kpi_refresh_soon

    if not kwargs.get("raw"):
        kpi_refresh_soon()


class MetricsConfig(AppConfig):
    name = "metrics"
    verbose_name = _("Metrics")

    def ready(self):
        for label in KPI_INPUT_MODELS:
            model = apps.get_model(label)
            post_save.connect(_wake, sender=model, dispatch_uid=f"kpi-wake-save-{label}")
            post_delete.connect(_wake, sender=model, dispatch_uid=f"kpi-wake-delete-{label}")
