from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from . import bulk_views, import_views, merge_views, notification_views, views

handler404 = "revops.api.not_found"

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("home/<slug:name>/", views.home_block, name="home-block"),
    path("bulk/<slug:kind>/", bulk_views.bulk_change, name="bulk-change"),
    path("bulk/<slug:kind>/fields/", bulk_views.bulk_fields, name="bulk-fields"),
    path("bulk/jobs/<int:pk>/", bulk_views.bulk_job, name="bulk-job"),
    path("team/offboard/", bulk_views.offboard, name="offboard"),
    path("merge/<slug:kind>/<int:pk>/", merge_views.merge_page, name="merge"),
    path("profile/", views.profile, name="profile"),
    path("notifications/", notification_views.notification_list, name="notification-list"),
    path("notifications/bell/", notification_views.notification_bell, name="notification-bell"),
    path("notifications/read/", notification_views.notification_read, name="notification-read"),
    path(
        "notifications/<int:pk>/",
        notification_views.notification_open,
        name="notification-open",
    ),
    path("language/", views.language_set, name="language-set"),
    path("dataset/export/", views.dataset_export, name="dataset-export"),
    path("imports/", import_views.import_new, name="import-new"),
    path("imports/<int:pk>/", import_views.import_detail, name="import-detail"),
    path("imports/<int:pk>/progress/", import_views.import_progress, name="import-progress"),
    path("imports/<int:pk>/rejects/", import_views.import_rejects, name="import-rejects"),
    path("imports/<int:pk>/discard/", import_views.import_discard, name="import-discard"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "password/change/",
        auth_views.PasswordChangeView.as_view(),
        name="password_change",
    ),
    path(
        "password/change/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("password/reset/", auth_views.PasswordResetView.as_view(), name="password_reset"),
    path(
        "password/reset/sent/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "password/reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "password/reset/complete/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("", include("crm.urls")),
    path("", include("pipeline.urls")),
    path("", include("metrics.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path(
        "api/v1/docs/",
        SpectacularSwaggerSplitView.as_view(url_name="api-schema"),
        name="api-docs",
    ),
    path("api/v1/", include("revops.api_urls")),
]
