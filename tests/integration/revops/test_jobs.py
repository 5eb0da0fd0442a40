"""Long jobs run once at a time and resume from their checkpoint."""

import threading

import pytest
from django.db import connection

from revops.jobs import job_lock, job_run
from revops.models import Job


class WorkerDied(BaseException):
    """Stands for SIGKILL: not an Exception, so nothing in the job catches it."""


@pytest.mark.django_db(transaction=True)
def test_a_copy_of_a_running_job_exits_at_once():
    job = Job.objects.create(kind="test")
    holding, release = threading.Event(), threading.Event()

    def first_copy():
        with job_lock(job.pk) as acquired:
            assert acquired
            holding.set()
            release.wait(10)
        connection.close()

    thread = threading.Thread(target=first_copy)
    thread.start()
    assert holding.wait(10)
    ran = []
    assert job_run(job.pk, lambda ctx: ran.append(1)) == "skipped-running"
    assert ran == []
    release.set()
    thread.join(10)
    assert job_run(job.pk, lambda ctx: {"rows": 3}) == "done"
    job.refresh_from_db()
    assert (job.status, job.result, job.attempts) == ("done", {"rows": 3}, 1)


@pytest.mark.django_db(transaction=True)
def test_a_redelivered_job_resumes_from_its_checkpoint():
    job = Job.objects.create(kind="test", total=10)
    processed = []

    def work(ctx, die_at=None):
        for item in range(ctx.checkpoint.get("next", 0), 10):
            if item == die_at:
                raise WorkerDied
            processed.append(item)
            ctx.save_checkpoint({"next": item + 1}, progress=item + 1)
        return {"processed": 10}

    with pytest.raises(WorkerDied):
        job_run(job.pk, lambda ctx: work(ctx, die_at=6))
    job.refresh_from_db()
    assert (job.status, job.checkpoint, job.progress) == ("running", {"next": 6}, 6)
    # The lock died with the worker: the redelivered copy takes over where it stopped.
    assert job_run(job.pk, work) == "done"
    assert processed == list(range(10))
    job.refresh_from_db()
    assert (job.status, job.attempts, job.progress) == ("done", 2, 10)
    # A third delivery of a finished job does nothing.
    assert job_run(job.pk, work) == "skipped-finished"
    assert processed == list(range(10))


@pytest.mark.django_db(transaction=True)
def test_a_failing_job_records_its_error():
    job = Job.objects.create(kind="test")

    def work(ctx):
        raise ValueError("leads.csv:4: email: not an e-mail address")

    assert job_run(job.pk, work) == "failed"
    job.refresh_from_db()
    assert job.status == "failed"
    assert "leads.csv:4" in job.error
