"""Every periodic schedule of the app, in one place.

The beat process (`celery -A revops beat`) reads this; run exactly one beat per
deployment (docker-compose.yml runs one `beat` service).
"""

from celery.schedules import crontab

BEAT_SCHEDULE = {
    "revops-purge-finished-jobs": {
        "task": "revops.tasks.job_purge_finished",
        "schedule": crontab(minute=17, hour=3),
    },
}
