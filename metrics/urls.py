from django.urls import path

from . import views

app_name = "metrics"
urlpatterns = [
    path("quotas/", views.quota_grid, name="quota-grid"),
    path("dashboards/", views.dashboard_home, name="dashboards"),
    path("dashboards/records/", views.kpi_records, name="kpi-records"),
    path("dashboards/goals/new/", views.goal_new, name="goal-new"),
    path("dashboards/goals/<int:pk>/delete/", views.goal_delete, name="goal-delete"),
    path(
        "dashboards/<slug:kind>/",
        views.dashboard,
        name="dashboard",
    ),
    path("dashboards/<slug:kind>/stamp/", views.dashboard_stamp, name="dashboard-stamp"),
    path(
        "dashboards/<slug:kind>/<slug:block>/",
        views.dashboard_block,
        name="dashboard-block",
    ),
]
