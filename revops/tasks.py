"""Thin Celery tasks of the `revops` app."""

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db import connection
from django.utils import timezone, translation

from .models import Job


@shared_task(acks_late=True, ignore_result=False)
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


@shared_task(acks_late=True)
def import_upload_run(upload_id: int) -> str:
    """Import a browser upload, once even if redelivered (revops.jobs)."""
    import csv
    import shutil

    import pghistory
    from django.core.files.base import ContentFile

    from .dataset import uploads
    from .dataset.importer import import_dataset
    from .jobs import job_run
    from .models import ImportUpload

    upload = ImportUpload.objects.select_related("job").filter(pk=upload_id).first()
    if upload is None or upload.job_id is None:
        return "nothing-to-run"

    def work(ctx):
        folder = uploads.mapped_folder(upload)
        try:
            # Problems are written in the language of whoever uploaded the file.
            language = getattr(upload.created_by, "language", None) or settings.LANGUAGE_CODE
            with (
                translation.override(language),
                pghistory.context(user=upload.created_by_id, url=f"import:{upload.pk}"),
            ):
                report = import_dataset(
                    folder,
                    skip_invalid=upload.skip_invalid,
                    progress=lambda n: ctx.save_checkpoint({}, progress=n),
                )
            rejects = sorted(folder.glob("*.rejects.csv"))
            if rejects:
                lines = []
                for path in rejects:
                    with open(path, encoding="utf-8") as stream:
                        for row in csv.reader(stream):
                            lines.append([path.name.replace(".rejects", ""), *row])
                out = csv.writer(buffer := _Buffer())
                out.writerows(lines)
                upload.rejects.save(
                    f"rejects-{upload.pk}.csv",
                    ContentFile(buffer.getvalue().encode("utf-8")),
                    save=False,
                )
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        committed = upload.skip_invalid or not report.problems
        result = {
            "committed": committed,
            "counts": {name: list(c) for name, c in report.counts.items()},
            "problems": [str(p) for p in report.problems[:500]],
            "problem_count": len(report.problems),
        }
        upload.result = result
        upload.status = ImportUpload.Status.DONE
        upload.save(update_fields=["result", "status", "rejects"])
        return result

    outcome = job_run(upload.job_id, work)
    if outcome == "failed":
        ImportUpload.objects.filter(pk=upload_id).update(status=ImportUpload.Status.FAILED)
    return outcome


class _Buffer:
    def __init__(self):
        self.parts = []

    def write(self, text):
        self.parts.append(text)

    def getvalue(self):
        return "".join(self.parts)


@shared_task(acks_late=True)
def notification_emails_send() -> dict:
    """Send the pending notification e-mails (queued after each commit that notifies, and
    swept every minute for those whose task was lost): each at most once."""
    from .notifications import send_pending_emails

    return send_pending_emails()


@shared_task(acks_late=True)
def bulk_change_run(job_id: int) -> str:
    """A bulk change or an offboarding too large for a request (revops.bulk_changes),
    resumable from its checkpoint."""
    from .bulk_changes import job_work
    from .jobs import job_run

    return job_run(job_id, job_work)


@shared_task(acks_late=True)
def bulk_jobs_sweep() -> int:
    """Every minute: queue the bulk jobs still waiting a minute after they were asked for
    (the broker was down then). A copy of a job already running exits at once."""
    from .bulk_changes import enqueue

    stale = timezone.now() - timedelta(minutes=1)
    waiting = list(
        Job.objects.filter(
            kind__startswith="bulk:", status=Job.Status.QUEUED, created_at__lt=stale
        ).values_list("pk", flat=True)
    )
    for job_id in waiting:
        enqueue(job_id)
    return len(waiting)
