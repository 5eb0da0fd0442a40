"""Thin Celery tasks of the metrics app (queue `kpi`)."""

from datetime import date

from celery import shared_task
from django.db import DatabaseError

from . import services


@shared_task(acks_late=True, autoretry_for=(DatabaseError,), retry_backoff=True, max_retries=5)
def kpi_refresh() -> dict | None:
    """Recompute today's snapshots for the owners marked dirty (also swept every minute)."""
    return services.kpi_refresh_dirty()


@shared_task(acks_late=True)
def goals_off_track_notify() -> int:
    """Hourly: tell the people of each goal that fell off track (once per goal)."""
    return services.goals_off_track_notify()


@shared_task(acks_late=True, autoretry_for=(DatabaseError,), retry_backoff=True, max_retries=5)
def kpi_recompute_day(as_of: str | None = None) -> dict:
    """Every scope's snapshots of one day (ISO date; today by default), from scratch."""
    return services.kpi_recompute_day(date.fromisoformat(as_of) if as_of else None)
