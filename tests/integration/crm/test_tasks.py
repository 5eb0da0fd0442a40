"""Tasks: quick add from a record's page, my tasks with overdue first, done in one click."""

from datetime import timedelta

import pytest
from django.utils import timezone

from crm.models import Activity
from tests.factories import AccountFactory, ActivityFactory, LeadFactory, OpportunityFactory

pytestmark = pytest.mark.django_db


def today():
    return timezone.localdate()


def test_a_task_is_added_from_an_accounts_page_and_shows_there(client_for, rep):
    account = AccountFactory(owner=rep, name="Atlas")
    client = client_for(rep)
    page = client.get(account.get_absolute_url()).content.decode()
    assert "Open tasks" in page and 'action="/tasks/new/"' in page
    due = today() + timedelta(days=2)
    block = client.post(
        "/tasks/new/",
        {
            "subject": "Send the proposal",
            "due_on": due.isoformat(),
            "assignee": rep.pk,
            "account": account.pk,
            "next": account.get_absolute_url(),
        },
        HTTP_HX_REQUEST="true",
    )
    assert block.status_code == 200
    assert "Send the proposal" in block.content.decode()
    task = Activity.objects.get(subject="Send the proposal")
    assert (task.kind, task.owner, task.account, task.due_on, task.done) == (
        "task",
        rep,
        account,
        due,
        False,
    )
    assert "Send the proposal" in client.get(account.get_absolute_url()).content.decode()


@pytest.mark.parametrize("page", ["lead", "deal"])
def test_quick_add_works_on_leads_and_deals_too(client_for, rep, page):
    record = LeadFactory(owner=rep) if page == "lead" else OpportunityFactory(owner=rep)
    field = "lead" if page == "lead" else "opportunity"
    client = client_for(rep)
    assert 'action="/tasks/new/"' in client.get(record.get_absolute_url()).content.decode()
    response = client.post(
        "/tasks/new/",
        {
            "subject": "Follow up",
            "due_on": today().isoformat(),
            "assignee": rep.pk,
            field: record.pk,
            "next": record.get_absolute_url(),
        },
    )
    assert response.status_code == 302 and response["Location"] == record.get_absolute_url()
    assert getattr(Activity.objects.get(subject="Follow up"), field) == record


def test_a_manager_assigns_within_the_team_a_rep_only_to_themselves(
    client_for, rep, teammate, manager, other_team_rep
):
    account = AccountFactory(owner=rep)
    client = client_for(manager)
    ok = client.post(
        "/tasks/new/",
        {
            "subject": "For Tom",
            "due_on": today().isoformat(),
            "assignee": teammate.pk,
            "account": account.pk,
        },
        HTTP_HX_REQUEST="true",
    )
    assert ok.status_code == 200 and Activity.objects.get(subject="For Tom").owner == teammate
    outside = client.post(
        "/tasks/new/",
        {
            "subject": "For Otto",
            "due_on": today().isoformat(),
            "assignee": other_team_rep.pk,
            "account": account.pk,
        },
        HTTP_HX_REQUEST="true",
    )
    assert outside.status_code == 400 and "Select a valid choice" in outside.content.decode()
    rep_client = client_for(rep)
    refused = rep_client.post(
        "/tasks/new/",
        {
            "subject": "For Tom too",
            "due_on": today().isoformat(),
            "assignee": teammate.pk,
            "account": account.pk,
        },
        HTTP_HX_REQUEST="true",
    )
    assert refused.status_code == 400
    missing = rep_client.post(
        "/tasks/new/",
        {"subject": "", "assignee": rep.pk, "account": account.pk},
        HTTP_HX_REQUEST="true",
    )
    assert missing.status_code == 400 and "This field is required." in missing.content.decode()
    assert set(Activity.objects.values_list("subject", flat=True)) == {"For Tom"}


def test_my_tasks_lists_overdue_first_highlighted_and_only_mine(client_for, rep, teammate, manager):
    account = AccountFactory(owner=rep)
    ActivityFactory(
        kind="task",
        owner=rep,
        account=account,
        subject="Late one",
        due_on=today() - timedelta(days=3),
    )
    ActivityFactory(kind="task", owner=rep, account=account, subject="Today one", due_on=today())
    ActivityFactory(
        kind="task",
        owner=rep,
        account=account,
        subject="Next week",
        due_on=today() + timedelta(days=7),
    )
    ActivityFactory(
        kind="task", owner=rep, account=account, subject="Finished", due_on=today(), done=True
    )
    ActivityFactory(
        kind="task", owner=teammate, account=account, subject="Toms task", due_on=today()
    )
    client = client_for(rep)
    page = client.get("/tasks/").content.decode()
    assert page.index("Late one") < page.index("Today one")
    assert "3 days overdue" in page and "Due today" in page
    assert 'class="task overdue"' in page
    assert "Next week" not in page and "Finished" not in page and "Toms task" not in page
    assert "Next week" in client.get("/tasks/?tab=upcoming").content.decode()
    assert "Finished" in client.get("/tasks/?tab=done").content.decode()
    # A rep asking for the team's sees their own; the manager sees the team's.
    assert "Toms task" not in client.get("/tasks/?whose=team").content.decode()
    team = client_for(manager).get("/tasks/?whose=team").content.decode()
    assert "Toms task" in team and "Late one" in team


def test_done_in_one_click_by_the_assignee_not_by_others(client_for, rep, teammate):
    task = ActivityFactory(
        kind="task",
        owner=rep,
        account=AccountFactory(owner=rep),
        subject="Call back",
        due_on=today(),
    )
    row = client_for(teammate).post(f"/tasks/{task.pk}/done/", HTTP_HX_REQUEST="true")
    assert row.status_code == 403
    task.refresh_from_db()
    assert not task.done
    row = client_for(rep).post(f"/tasks/{task.pk}/done/", HTTP_HX_REQUEST="true")
    assert row.status_code == 200 and 'class="task done"' in row.content.decode()
    task.refresh_from_db()
    assert task.done
    client_for(rep).post(f"/tasks/{task.pk}/done/", {"done": "0"})
    task.refresh_from_db()
    assert not task.done


def test_the_task_list_in_persian(client_for, rep):
    rep.language = "fa"
    rep.save()
    ActivityFactory(
        kind="task",
        owner=rep,
        account=AccountFactory(owner=rep),
        subject="تماس",
        due_on=today() - timedelta(days=2),
    )
    page = client_for(rep).get("/tasks/", HTTP_ACCEPT_LANGUAGE="fa").content.decode()
    assert 'dir="rtl"' in page and "تماس" in page
    assert "days overdue" not in page and "۲ روز دیرکرد" in page
