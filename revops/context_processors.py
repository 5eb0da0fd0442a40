from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from .models import User


def navigation(request):
    """The top bar's links for the signed-in user, by role.

    Each later section (records, pipeline, dashboards, imports) adds its entry here with
    the roles that may open it (shared/spec/roles.md).
    """
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": []}
    items = [
        {"name": "home", "label": _("Home"), "url": reverse("home")},
        # Tasks early: at a narrow width the menu scrolls, and this is the morning's list.
        {"name": "task-list", "label": _("Tasks"), "url": reverse("crm:task-list")},
        {"name": "board", "label": _("Board"), "url": reverse("pipeline:board")},
        {
            "name": "opportunity-list",
            "label": _("Deals"),
            "url": reverse("pipeline:opportunity-list"),
        },
        {"name": "account-list", "label": _("Accounts"), "url": reverse("crm:account-list")},
        {"name": "contact-list", "label": _("Contacts"), "url": reverse("crm:contact-list")},
        {"name": "lead-list", "label": _("Leads"), "url": reverse("pipeline:lead-list")},
        {
            "name": "handoff-queue",
            "label": _("Handoffs"),
            "url": reverse("pipeline:handoff-queue"),
        },
        {"name": "activity-list", "label": _("Activities"), "url": reverse("crm:activity-list")},
    ]
    items.insert(
        1,
        {
            "name": "dashboard",
            "label": _("Dashboards"),
            "url": reverse("metrics:dashboards"),
        },
    )
    if user.role in (User.Role.CS, User.Role.ADMIN):
        items.insert(
            1,
            {
                "name": "cs-workspace",
                "label": _("Customer success"),
                "url": reverse("crm:cs-workspace"),
            },
        )
    if user.role in (User.Role.MARKETER, User.Role.ADMIN):
        items.append({"name": "import-new", "label": _("Import"), "url": reverse("import-new")})
    if user.role in (User.Role.REP, User.Role.MANAGER, User.Role.EXECUTIVE, User.Role.ADMIN):
        items.append(
            {"name": "quota-grid", "label": _("Quotas"), "url": reverse("metrics:quota-grid")}
        )

    if user.role == User.Role.ADMIN or user.is_staff:
        items.append({"name": "admin", "label": _("Administration"), "url": reverse("admin:index")})
    current = getattr(getattr(request, "resolver_match", None), "url_name", None)
    for item in items:
        item["active"] = item["name"] == current
    return {"nav_items": items}
