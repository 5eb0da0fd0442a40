"""Every periodic schedule of the app, in one place.

The beat process (`celery -A revops beat`) reads this; run exactly one beat per
deployment (docker-compose.yml runs one `beat` service).
"""

from celery.schedules import crontab

BEAT_SCHEDULE = {
    "crm-health-nightly": {
        "task": "crm.tasks.health_refresh_all",
        "schedule": crontab(minute=30, hour=2),
    },
    "crm-renewals-daily": {
        "task": "crm.tasks.renewals_create_due",
        "schedule": crontab(minute=0, hour="*/6"),
    },
    # Catches KPI changes whose refresh was never enqueued (broker down) or was lost, and
    # starts each new day's snapshots within a minute of midnight in the organisation.
    "metrics-kpi-sweep": {
        "task": "metrics.tasks.kpi_refresh",
        "schedule": crontab(minute="*"),
    },
    "metrics-kpi-nightly": {
        "task": "metrics.tasks.kpi_recompute_day",
        "schedule": crontab(minute=45, hour=1),
    },
    "revops-purge-finished-jobs": {
        "task": "revops.tasks.job_purge_finished",
        "schedule": crontab(minute=17, hour=3),
    },
}
