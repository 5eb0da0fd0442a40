"""The REST API of the working day: notifications, tasks, bulk reassign (issue 12)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from crm.models import Activity
from pipeline.models import Opportunity
from revops.bulk_changes import INLINE, job_work
from revops.jobs import job_run
from revops.models import Notification
from revops.notifications import notify
from tests.factories import AccountFactory, ActivityFactory, OpportunityFactory, default_pipeline

pytestmark = pytest.mark.django_db
Kind = Notification.Kind


def test_notifications_list_read_and_read_all(client_for, rep, teammate):
    for n in range(3):
        notify([rep], Kind.TASK_DUE, f"task:{n}", params={"subject": f"T{n}", "due": "2026-11-28"})
    notify([teammate], Kind.TASK_DUE, "task:9", params={"subject": "Theirs"})
    client = client_for(rep)
    rows = client.get("/api/v1/notifications/").json()["results"]
    assert len(rows) == 3 and rows[0]["text"] == "Your task T2 is due on 2026-11-28."
    rep.language = "fa"
    rep.save()
    persian = client.get("/api/v1/notifications/").json()["results"]
    rep.language = "en"
    rep.save()
    assert "is due on" not in persian[0]["text"] and "T2" in persian[0]["text"]
    one = rows[0]["id"]
    read = client.post(f"/api/v1/notifications/{one}/read/").json()
    assert read["read_at"] is not None
    assert len(client.get("/api/v1/notifications/?unread=true").json()["results"]) == 2
    assert client.get("/api/v1/notifications/?unread=maybe").status_code == 400
    assert client.post("/api/v1/notifications/read-all/").json() == {"read": 2}
    theirs = Notification.objects.get(recipient=teammate).pk
    assert client.get(f"/api/v1/notifications/{theirs}/").status_code == 404
    assert client.post(f"/api/v1/notifications/{theirs}/read/").status_code == 404
    assert Notification.objects.get(pk=theirs).read_at is None


def test_tasks_api(client_for, rep, teammate, manager):
    today = timezone.localdate()
    account = AccountFactory(owner=rep)
    ActivityFactory(kind="call", owner=rep, account=account, subject="Not a task")
    ActivityFactory(
        kind="task", owner=rep, account=account, subject="Late", due_on=today - timedelta(days=2)
    )
    client = client_for(rep)
    created = client.post(
        "/api/v1/tasks/",
        {
            "subject": "Send contract",
            "account": account.pk,
            "due_on": today.isoformat(),
            "kind": "call",
        },
        content_type="application/json",
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert (body["kind"], body["owner"], body["done"]) == ("task", rep.pk, False)
    subjects = {row["subject"] for row in client.get("/api/v1/tasks/").json()["results"]}
    assert subjects == {"Late", "Send contract"}
    overdue = client.get("/api/v1/tasks/?mine=true&due=overdue").json()["results"]
    assert [row["subject"] for row in overdue] == ["Late"]
    done = client.patch(
        f"/api/v1/tasks/{body['id']}/", {"done": True}, content_type="application/json"
    )
    assert done.status_code == 200 and Activity.objects.get(pk=body["id"]).done
    # A rep assigns to themselves only; a manager within the team.
    refused = client.post(
        "/api/v1/tasks/",
        {"subject": "For Tom", "account": account.pk, "owner": teammate.pk},
        content_type="application/json",
    )
    assert refused.status_code == 400 and "owner" in refused.json()
    given = client_for(manager).post(
        "/api/v1/tasks/",
        {"subject": "For Tom", "account": account.pk, "owner": teammate.pk},
        content_type="application/json",
    )
    assert given.status_code == 201 and given.json()["owner"] == teammate.pk


def test_bulk_reassign_api(client_for, rep, teammate, manager, other_team_rep, executive):
    mine = [OpportunityFactory(owner=rep) for _ in range(3)]
    theirs = OpportunityFactory(owner=other_team_rep)
    client = client_for(manager)
    answer = client.post(
        "/api/v1/bulk/reassign/",
        {"kind": "opportunity", "owner": teammate.pk, "ids": [d.pk for d in mine] + [theirs.pk]},
        content_type="application/json",
    )
    assert answer.status_code == 200 and answer.json() == {"changed": 3, "skipped": 0}
    assert Opportunity.objects.get(pk=theirs.pk).owner == other_team_rep
    outside = client.post(
        "/api/v1/bulk/reassign/",
        {"kind": "opportunity", "owner": other_team_rep.pk, "ids": [mine[0].pk]},
        content_type="application/json",
    )
    assert outside.status_code == 400 and "owner" in outside.json()
    both = client.post(
        "/api/v1/bulk/reassign/",
        {"kind": "opportunity", "owner": rep.pk, "ids": [1], "filter": {}},
        content_type="application/json",
    )
    assert both.status_code == 400
    assert (
        client_for(executive)
        .post(
            "/api/v1/bulk/reassign/",
            {"kind": "opportunity", "owner": rep.pk, "ids": [mine[0].pk]},
            content_type="application/json",
        )
        .status_code
        == 403
    )
    # Many: a job, followed through the API.
    account = AccountFactory(owner=rep)
    stage = default_pipeline().stages.order_by("position").first()
    Opportunity.objects.bulk_create(
        Opportunity(
            account=account,
            owner=rep,
            name=f"D{n}",
            pipeline=stage.pipeline,
            stage=stage,
            amount=1,
            currency="USD",
        )
        for n in range(INLINE + 1)
    )
    client = client_for(manager)  # the test client is shared: signed in as the executive above
    started = client.post(
        "/api/v1/bulk/reassign/",
        {"kind": "opportunity", "owner": teammate.pk, "filter": {"owner": str(rep.pk)}},
        content_type="application/json",
    )
    assert started.status_code == 202
    job = started.json()["job"]
    assert job_run(job, job_work) == "done"
    status = client.get(f"/api/v1/bulk/jobs/{job}/").json()
    assert status["status"] == "done" and status["result"] == {"changed": INLINE + 1, "skipped": 0}
    assert client_for(rep).get(f"/api/v1/bulk/jobs/{job}/").status_code == 404
