from django.urls import path

from . import views

app_name = "metrics"
urlpatterns = [
    path("quotas/", views.quota_grid, name="quota-grid"),
]
