from django.urls import path
from rest_framework.routers import DefaultRouter

from crm.api import (
    AccountViewSet,
    ActivityViewSet,
    ContactViewSet,
    HealthViewSet,
    SubscriptionViewSet,
)
from crm.task_api import TaskViewSet
from metrics.api import KpiApi, KpiDrilldownApi, KpiSeriesApi, QuotaViewSet
from pipeline.api import (
    HandoffViewSet,
    LeadViewSet,
    OpportunityViewSet,
    PipelineViewSet,
    StageChangeViewSet,
    StageViewSet,
)

from . import api, bulk_api, notification_api

router = DefaultRouter()
router.register("accounts", AccountViewSet, basename="account")
router.register("contacts", ContactViewSet, basename="contact")
router.register("activities", ActivityViewSet, basename="activity")
router.register("leads", LeadViewSet, basename="lead")
router.register("handoffs", HandoffViewSet, basename="handoff")
router.register("opportunities", OpportunityViewSet, basename="opportunity")
router.register("pipelines", PipelineViewSet, basename="pipeline")
router.register("stages", StageViewSet, basename="stage")
router.register("stage-history", StageChangeViewSet, basename="stage-history")
router.register("quotas", QuotaViewSet, basename="quota")
router.register("subscriptions", SubscriptionViewSet, basename="subscription")
router.register("health", HealthViewSet, basename="health")
router.register("tasks", TaskViewSet, basename="task")
router.register("notifications", notification_api.NotificationViewSet, basename="api-notification")

urlpatterns = [
    path("me/", api.MeApi.as_view(), name="api-me"),
    path("kpis/", KpiApi.as_view(), name="api-kpis"),
    path("kpis/series/", KpiSeriesApi.as_view(), name="api-kpi-series"),
    path("kpis/drilldown/", KpiDrilldownApi.as_view(), name="api-kpi-drilldown"),
    path("bulk/reassign/", bulk_api.BulkReassignApi.as_view(), name="api-bulk-reassign"),
    path("bulk/jobs/<int:pk>/", bulk_api.BulkJobApi.as_view(), name="api-bulk-job"),
    *router.urls,
]
