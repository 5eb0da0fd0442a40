"""Thin Celery tasks of the pipeline."""

from celery import shared_task

from . import services


@shared_task(acks_late=True)
def handoff_sla_notify() -> int:
    """Every minute: tell who must act on handoffs about to breach or breached."""
    return services.handoff_sla_notify()
