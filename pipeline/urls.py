from django.urls import path

from . import views

app_name = "pipeline"
urlpatterns = [
    path("leads/", views.lead_list, name="lead-list"),
    path("leads/new/", views.lead_create, name="lead-create"),
    path("leads/export/", views.lead_export, name="lead-export"),
    path("deals/export/", views.opportunity_export, name="opportunity-export"),
    path("leads/<int:pk>/", views.lead_detail, name="lead-detail"),
    path("leads/<int:pk>/edit/", views.lead_edit, name="lead-edit"),
    path("leads/<int:pk>/delete/", views.lead_delete, name="lead-delete"),
    path("leads/<int:pk>/handoff/", views.lead_handoff, name="lead-handoff"),
    path("leads/<int:pk>/convert/", views.lead_convert, name="lead-convert"),
    path("handoffs/", views.handoff_queue, name="handoff-queue"),
    path("board/", views.board, name="board"),
    path("board/columns/<int:stage_id>/", views.board_column, name="board-column"),
    path("deals/", views.opportunity_list, name="opportunity-list"),
    path("deals/new/", views.opportunity_create, name="opportunity-create"),
    path("deals/<int:pk>/", views.opportunity_detail, name="opportunity-detail"),
    path("deals/<int:pk>/edit/", views.opportunity_edit, name="opportunity-edit"),
    path("deals/<int:pk>/move/", views.opportunity_move, name="opportunity-move"),
    path("handoffs/<int:pk>/", views.handoff_detail, name="handoff-detail"),
    path(
        "handoffs/<int:pk>/checklist/<int:item_pk>/",
        views.checklist_item_toggle,
        name="handoff-checklist-item",
    ),
    path("handoffs/<int:pk>/accept/", views.handoff_accept, name="handoff-accept"),
    path("handoffs/<int:pk>/reject/", views.handoff_reject, name="handoff-reject"),
]
