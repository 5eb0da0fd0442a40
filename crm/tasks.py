"""Thin Celery tasks of the customer record."""

from celery import shared_task

from .models import Account
from .services import account_health_compute, renewals_create
from .services import tasks_due_notify as services_tasks_due_notify


@shared_task(acks_late=True)
def account_health_refresh(account_id: int) -> int | None:
    account = Account.objects.filter(pk=account_id, is_deleted=False).first()
    return account_health_compute(account).score if account else None


@shared_task(acks_late=True)
def health_refresh_all() -> int:
    """Nightly: every live account's health for the day."""
    count = 0
    for account in Account.objects.alive().only("pk").iterator(chunk_size=2000):
        account_health_compute(account)
        count += 1
    return count


@shared_task(acks_late=True)
def renewals_create_due() -> int:
    return renewals_create()


@shared_task(acks_late=True)
def tasks_due_notify() -> int:
    """Every few minutes: tell assignees of the tasks that fell due."""
    return services_tasks_due_notify()
