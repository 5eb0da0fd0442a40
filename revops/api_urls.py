from django.urls import path
from rest_framework.routers import DefaultRouter

from crm.api import AccountViewSet, ActivityViewSet, ContactViewSet
from pipeline.api import HandoffViewSet, LeadViewSet

from . import api

router = DefaultRouter()
router.register("accounts", AccountViewSet, basename="account")
router.register("contacts", ContactViewSet, basename="contact")
router.register("activities", ActivityViewSet, basename="activity")
router.register("leads", LeadViewSet, basename="lead")
router.register("handoffs", HandoffViewSet, basename="handoff")

urlpatterns = [
    path("me/", api.MeApi.as_view(), name="api-me"),
    *router.urls,
]
