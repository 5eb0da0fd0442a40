from django.urls import path

from . import task_views, views

app_name = "crm"
urlpatterns = [
    path("accounts/", views.account_list, name="account-list"),
    path("accounts/new/", views.account_create, name="account-create"),
    path("accounts/export/", views.account_export, name="account-export"),
    path("contacts/export/", views.contact_export, name="contact-export"),
    path("activities/export/", views.activity_export, name="activity-export"),
    path("accounts/<int:pk>/", views.account_detail, name="account-detail"),
    path("accounts/<int:pk>/edit/", views.account_edit, name="account-edit"),
    path("accounts/<int:pk>/delete/", views.account_delete, name="account-delete"),
    path("contacts/", views.contact_list, name="contact-list"),
    path("contacts/new/", views.contact_create, name="contact-create"),
    path("contacts/<int:pk>/", views.contact_detail, name="contact-detail"),
    path("contacts/<int:pk>/edit/", views.contact_edit, name="contact-edit"),
    path("contacts/<int:pk>/delete/", views.contact_delete, name="contact-delete"),
    path("activities/", views.activity_list, name="activity-list"),
    path("activities/new/", views.activity_create, name="activity-create"),
    path("activities/<int:pk>/edit/", views.activity_edit, name="activity-edit"),
    path("activities/<int:pk>/delete/", views.activity_delete, name="activity-delete"),
    path("tasks/", task_views.task_list, name="task-list"),
    path("tasks/new/", task_views.task_add, name="task-add"),
    path("tasks/<int:pk>/done/", task_views.task_done, name="task-done"),
    path("search/", views.search, name="search"),
    path(
        "accounts/<int:account_pk>/subscriptions/new/",
        views.subscription_create,
        name="subscription-create",
    ),
    path("subscriptions/<int:pk>/change/", views.subscription_change, name="subscription-change"),
    path("subscriptions/<int:pk>/cancel/", views.subscription_cancel, name="subscription-cancel"),
    path("cs/", views.cs_workspace, name="cs-workspace"),
]
