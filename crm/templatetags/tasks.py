"""`{% record_tasks account=account %}`: a record's open tasks and the quick-add form."""

from django import template

from crm.task_views import record_tasks_context

register = template.Library()


@register.inclusion_tag("crm/record_tasks.html", takes_context=True)
def record_tasks(context, account=None, contact=None, lead=None, opportunity=None):
    record = {
        "account": account.pk if account else "",
        "contact": contact.pk if contact else "",
        "lead": lead.pk if lead else "",
        "opportunity": opportunity.pk if opportunity else "",
    }
    request = context["request"]
    return {
        **record_tasks_context(request, record),
        "request": request,
        "csrf_token": context.get("csrf_token"),
    }
