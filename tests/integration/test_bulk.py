"""Bulk actions from list pages and offboarding: only what roles.md lets the user change,
every change in the audit history, KPIs following, large selections as a job."""

import pytest
from django.utils import timezone

from crm.models import Account, Activity
from metrics.models import KpiSnapshot
from metrics.services import Scope, kpi_compute, kpi_recompute_day, kpi_refresh_dirty, org_today
from pipeline.models import Lead, Opportunity, OpportunityEvent, StageChange
from revops.bulk_changes import INLINE, job_work
from revops.jobs import job_run
from revops.models import Job
from tests.factories import (
    AccountFactory,
    ActivityFactory,
    LeadFactory,
    OpportunityFactory,
    default_pipeline,
    default_stages,
)

pytestmark = pytest.mark.django_db


def owners(model, ids):
    return dict(model.objects.filter(pk__in=ids).values_list("pk", "owner_id"))


def test_a_manager_gives_ticked_deals_to_a_teammate_audited(
    client_for, rep, teammate, manager, other_team_rep
):
    mine = [OpportunityFactory(owner=rep) for _ in range(3)]
    theirs = OpportunityFactory(owner=other_team_rep)
    client = client_for(manager)
    page = client.get("/deals/").content.decode()
    assert 'action="/bulk/opportunity/"' in page and 'name="ids"' in page
    fields = client.get("/bulk/opportunity/fields/").content.decode()
    assert "Tom Mate" in fields and "Otto Other" not in fields
    response = client.post(
        "/bulk/opportunity/",
        {
            "action": "reassign",
            "owner": teammate.pk,
            "ids": [deal.pk for deal in mine] + [theirs.pk],
            "next": "/deals/",
        },
    )
    assert response.status_code == 302 and response["Location"] == "/deals/"
    assert set(owners(Opportunity, [d.pk for d in mine]).values()) == {teammate.pk}
    assert Opportunity.objects.get(pk=theirs.pk).owner == other_team_rep
    assert "3 deals changed." in client.get("/deals/").content.decode()
    # Each deal's history says who gave it away, from whom to whom; the version moved.
    for deal in mine:
        last = OpportunityEvent.objects.filter(pgh_obj_id=deal.pk).order_by("pgh_id").last()
        assert (last.owner_id, last.pgh_context.metadata["user"]) == (teammate.pk, manager.pk)
        assert Opportunity.objects.get(pk=deal.pk).version == deal.version + 1


def test_nobody_gives_records_to_someone_roles_md_does_not_allow(
    client_for, rep, teammate, manager, other_team_rep, executive
):
    deal = OpportunityFactory(owner=rep)
    for user, to in ((manager, other_team_rep), (rep, teammate)):
        response = client_for(user).post(
            "/bulk/opportunity/",
            {"action": "reassign", "owner": to.pk, "ids": [deal.pk], "next": "/deals/"},
            follow=True,
        )
        assert "Choose someone you may give these records to." in response.content.decode()
    assert Opportunity.objects.get(pk=deal.pk).owner == rep
    assert (
        client_for(executive)
        .post("/bulk/opportunity/", {"action": "reassign", "owner": rep.pk, "ids": [deal.pk]})
        .status_code
        == 403
    )
    assert client_for(executive).get("/bulk/opportunity/fields/").status_code == 404


def test_all_matching_the_filter_and_a_stage_move_through_the_ledger(client_for, rep, manager):
    stages = default_stages()
    proposals = [OpportunityFactory(owner=rep, stage=stages["Proposal"]) for _ in range(4)]
    other = OpportunityFactory(owner=rep, stage=stages["Discovery"])
    response = client_for(manager).post(
        "/bulk/opportunity/",
        {
            "action": "stage",
            "stage": stages["Negotiation"].pk,
            "all": "1",
            "query": f"stage={stages['Proposal'].pk}",
        },
    )
    assert response.status_code == 302
    moved = Opportunity.objects.filter(stage=stages["Negotiation"])
    assert set(moved.values_list("pk", flat=True)) == {d.pk for d in proposals}
    assert Opportunity.objects.get(pk=other.pk).stage == stages["Discovery"]
    assert StageChange.objects.filter(to_stage=stages["Negotiation"]).count() == 4
    refused = client_for(manager).post(
        "/bulk/opportunity/",
        {"action": "stage", "stage": stages["Closed won"].pk, "ids": [other.pk]},
        follow=True,
    )
    assert "Choose an open stage" in refused.content.decode()


def test_lead_status_in_bulk(client_for, marketer, rep, cs):
    fresh = [LeadFactory(owner=marketer, status="new") for _ in range(3)]
    handed = LeadFactory(owner=marketer, status="mql")
    client = client_for(marketer)
    ids = [lead.pk for lead in fresh] + [handed.pk]
    refused = client.post(
        "/bulk/lead/", {"action": "status", "status": "disqualified", "ids": ids}, follow=True
    )
    assert "Say why these leads are disqualified." in refused.content.decode()
    client.post(
        "/bulk/lead/",
        {"action": "status", "status": "disqualified", "reason": "Students", "ids": ids},
    )
    assert set(Lead.objects.filter(pk__in=ids).values_list("status", flat=True)) == {
        "disqualified",
        "mql",
    }
    assert Lead.objects.get(pk=fresh[0].pk).disqualified_reason == "Students"
    assert client_for(cs).post("/bulk/lead/", {"action": "status", "ids": ids}).status_code == 403


def test_export_of_the_ticked_rows(client_for, manager, rep):
    deals = [OpportunityFactory(owner=rep, name=f"Export me {n}") for n in range(3)]
    OpportunityFactory(owner=rep, name="Leave me")
    client = client_for(manager)
    response = client.post(
        "/bulk/opportunity/", {"action": "export", "ids": [deals[0].pk, deals[2].pk]}
    )
    assert response.status_code == 302 and response["Location"].startswith("/deals/export/?")
    csv = b"".join(client.get(response["Location"]).streaming_content).decode()
    assert "Export me 0" in csv and "Export me 2" in csv
    assert "Export me 1" not in csv and "Leave me" not in csv


def test_a_large_selection_runs_as_a_job_with_progress(
    client_for, manager, rep, teammate, admin_user
):
    account = AccountFactory(owner=rep)
    stage = default_stages()["Discovery"]
    pipeline = default_pipeline()
    Opportunity.objects.bulk_create(
        Opportunity(
            account=account,
            owner=rep,
            name=f"D{n}",
            pipeline=pipeline,
            stage=stage,
            amount=10,
            currency="USD",
        )
        for n in range(INLINE + 50)
    )
    client = client_for(manager)
    response = client.post(
        "/bulk/opportunity/", {"action": "reassign", "owner": teammate.pk, "all": "1", "query": ""}
    )
    job = Job.objects.get(kind="bulk:opportunity:reassign")
    assert response["Location"] == f"/bulk/jobs/{job.pk}/"
    assert job.total == INLINE + 50
    waiting = client.get(response["Location"]).content.decode()
    assert 'hx-trigger="every 1s"' in waiting
    assert job_run(job.pk, job_work) == "done"
    assert Opportunity.objects.filter(owner=teammate).count() == INLINE + 50
    done = client.get(response["Location"], HTTP_HX_REQUEST="true").content.decode()
    assert f"{INLINE + 50} records changed." in done and "every 1s" not in done
    assert client_for(rep).get(response["Location"]).status_code == 404
    assert client_for(admin_user).get(response["Location"]).status_code == 200


def test_offboarding_a_rep_with_thousands_of_records(client_for, rep, teammate, manager):
    stages = default_stages()
    pipeline = default_pipeline()
    accounts = Account.objects.bulk_create(Account(name=f"Acc {n}", owner=rep) for n in range(300))
    Opportunity.objects.bulk_create(
        Opportunity(
            account=accounts[n % 300],
            owner=rep,
            name=f"Open {n}",
            pipeline=pipeline,
            stage=stages["Proposal"],
            amount=100,
            currency="USD",
            expected_close_on=org_today(),
        )
        for n in range(2000)
    )
    won = OpportunityFactory(
        owner=rep,
        stage=stages["Closed won"],
        status="won",
        closed_on=org_today(),
        account=accounts[0],
    )
    Lead.objects.bulk_create(
        Lead(first_name=f"L{n}", owner=rep, status="working") for n in range(500)
    )
    converted = LeadFactory(owner=rep, status="disqualified", disqualified_reason="Spam")
    ActivityFactory(
        kind="task", owner=rep, account=accounts[1], subject="Call", due_on=timezone.localdate()
    )
    kpi_recompute_day()
    client = client_for(manager)
    preview = client.get("/team/offboard/", {"leaving": rep.pk, "to": teammate.pk}).content.decode()
    assert "2000 open deals" in preview and "500 leads" in preview
    assert "300 accounts" in preview and "1 open task" in preview
    response = client.post(
        "/team/offboard/", {"leaving": rep.pk, "to": teammate.pk, "confirm": "1"}
    )
    job = Job.objects.get(kind="bulk:offboard")
    assert response["Location"] == f"/bulk/jobs/{job.pk}/"
    assert job_run(job.pk, job_work) == "done"
    job.refresh_from_db()
    assert job.result == {"changed": 2801, "skipped": 0} and job.progress == 2801
    assert Opportunity.objects.filter(owner=teammate, status="open").count() == 2000
    assert Opportunity.objects.get(pk=won.pk).owner == rep  # history stays with who won it
    assert Lead.objects.filter(owner=teammate).count() == 500
    assert Lead.objects.get(pk=converted.pk).owner == rep
    assert Account.objects.filter(owner=teammate).count() == 300
    assert Activity.objects.get(subject="Call").owner == teammate
    # Audited: one owner change per deal, each naming the manager.
    changes = OpportunityEvent.objects.filter(
        owner=teammate, pgh_context__metadata__user=manager.pk
    )
    assert changes.count() == 2000
    # KPIs follow: the teammate now carries the open pipeline, the rep none of it.
    kpi_refresh_dirty()
    day = org_today()
    for user, expected in ((teammate, 2000), (rep, 0)):
        value = KpiSnapshot.objects.get(
            kpi="open_deals",
            grain="month",
            calendar="gregorian",
            as_of=day,
            scope_kind="owner",
            scope_id=user.pk,
        ).value
        assert value == expected
        assert value == kpi_compute(day, "month", "gregorian", Scope.of_owner(user))["open_deals"]


def test_offboarding_is_for_managers_within_their_team(
    client_for, rep, teammate, other_team_rep, manager
):
    assert client_for(rep).get("/team/offboard/").status_code == 403
    page = (
        client_for(manager)
        .get("/team/offboard/", {"leaving": other_team_rep.pk, "to": teammate.pk})
        .content.decode()
    )
    assert "Select a valid choice" in page and 'data-what="opportunity"' not in page


def test_a_large_change_asked_while_the_broker_is_down_is_queued_by_the_sweep(
    client_for, manager, rep, teammate, monkeypatch, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    from revops import tasks

    account = AccountFactory(owner=rep)
    stage = default_stages()["Discovery"]
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

    def down(*args, **kwargs):
        raise ConnectionError("Redis is down")

    monkeypatch.setattr(tasks.bulk_change_run, "delay", down)
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(manager).post(
            "/bulk/opportunity/",
            {"action": "reassign", "owner": teammate.pk, "all": "1", "query": ""},
        )
    job = Job.objects.get(kind="bulk:opportunity:reassign")
    assert response.status_code == 302 and job.status == "queued"
    queued = []
    monkeypatch.setattr(tasks.bulk_change_run, "delay", queued.append)
    assert tasks.bulk_jobs_sweep() == 0  # asked a moment ago: its own task may come
    Job.objects.filter(pk=job.pk).update(created_at=timezone.now() - timedelta(minutes=2))
    assert tasks.bulk_jobs_sweep() == 1 and queued == [job.pk]


def test_tags_added_and_removed_in_bulk_and_found_by_filter(client_for, manager, rep, marketer):
    deals = [OpportunityFactory(owner=rep, name=f"Tagged {n}") for n in range(2)]
    OpportunityFactory(owner=rep, name="Untagged")
    client = client_for(manager)
    refused = client.post(
        "/bulk/opportunity/",
        {"action": "tag", "tag": "  ", "ids": [d.pk for d in deals]},
        follow=True,
    )
    assert "Write the tag" in refused.content.decode()
    client.post(
        "/bulk/opportunity/",
        {"action": "tag", "tag": " Q4   push ", "ids": [d.pk for d in deals]},
    )
    client.post("/bulk/opportunity/", {"action": "tag", "tag": "Q4 push", "ids": [deals[0].pk]})
    assert [Opportunity.objects.get(pk=d.pk).tags for d in deals] == [["Q4 push"], ["Q4 push"]]
    page = client.get("/deals/", {"tag": "Q4 push"}).content.decode()
    assert "Tagged 0" in page and "Tagged 1" in page and "Untagged" not in page
    assert 'class="tag"' in page
    client.post("/bulk/opportunity/", {"action": "untag", "tag": "Q4 push", "ids": [deals[1].pk]})
    assert Opportunity.objects.get(pk=deals[1].pk).tags == []
    # The API writes tags the same way and filters by them.
    lead = LeadFactory(owner=marketer)
    api = client_for(marketer)
    answer = api.patch(
        f"/api/v1/leads/{lead.pk}/",
        {"tags": ["  vip ", "vip", "webinar"]},
        content_type="application/json",
    )
    assert answer.status_code == 200 and answer.json()["tags"] == ["vip", "webinar"]
    assert [row["id"] for row in api.get("/api/v1/leads/?tag=vip").json()["results"]] == [lead.pk]
    bad = api.patch(
        f"/api/v1/leads/{lead.pk}/", {"tags": ["x" * 41]}, content_type="application/json"
    )
    assert bad.status_code == 400 and "tags" in bad.json()
