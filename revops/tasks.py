"""Thin Celery tasks of the `revops` app."""

from datetime import timedelta

from celery import shared_task
from django.db import connection
from django.utils import timezone

from .models import Job


@shared_task(acks_late=True)
def ping(token: str) -> dict:
    """Round trip through the broker, a worker and the database: used by health checks
    and by the test that proves a real worker runs our tasks."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_database()")
        database = cursor.fetchone()[0]
    return {"token": token, "database": database}


@shared_task(acks_late=True)
def job_purge_finished(days: int = 90) -> int:
    """Forget finished jobs older than `days` days (their results were shown long ago)."""
    cutoff = timezone.now() - timedelta(days=days)
    deleted, _ = Job.objects.filter(
        status__in=[Job.Status.DONE, Job.Status.FAILED], finished_at__lt=cutoff
    ).delete()
    return deleted
