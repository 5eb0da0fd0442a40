"""Marketing hands leads to sales: visibility, the handoff and its SLA, bad input."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from pipeline.models import Handoff, Lead
from pipeline.services import add_business_days, handoff_accept, lead_handoff
from revops.models import Organisation
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


def hand_off(client, lead, team, to_user=None):
    data = {"to_team": team.pk, "note": "Asked for a demo"}
    if to_user:
        data["to_user"] = to_user.pk
    return client.post(reverse("pipeline:lead-handoff", args=[lead.pk]), data)


def test_marketer_to_rep_handoff_journey(client_for, client, marketer, rep, sales_team):
    lead = LeadFactory(owner=marketer, status=Lead.Status.WORKING)
    response = hand_off(client_for(marketer), lead, sales_team)
    assert response.status_code == 302
    lead.refresh_from_db()
    assert lead.status == Lead.Status.MQL
    assert lead.handed_off_on == timezone.localdate()
    handoff = Handoff.objects.get(lead=lead)
    assert (handoff.status, handoff.to_team, handoff.from_user) == ("pending", sales_team, marketer)
    assert handoff.sla_due_at > handoff.created_at

    client.logout()
    rep_client = client_for(rep)
    queue = rep_client.get(reverse("pipeline:handoff-queue"))
    assert lead.display_name in queue.content.decode()
    assert "On time" in queue.content.decode()
    assert rep_client.get(lead.get_absolute_url()).status_code == 200
    accepted = rep_client.post(reverse("pipeline:handoff-accept", args=[handoff.pk]))
    assert accepted.status_code == 302
    lead.refresh_from_db()
    handoff.refresh_from_db()
    assert (lead.status, lead.owner, lead.accepted_on) == ("sql", rep, timezone.localdate())
    assert (handoff.status, handoff.decided_by, handoff.to_user) == ("accepted", rep, rep)


def test_a_rejection_needs_a_reason_and_goes_back_to_marketing(
    client_for, marketer, rep, sales_team
):
    lead = LeadFactory(owner=marketer)
    handoff = lead_handoff(lead=lead, by=marketer, to_team=sales_team)
    client = client_for(rep)
    client.post(reverse("pipeline:handoff-reject", args=[handoff.pk]), {"reason": "  "})
    handoff.refresh_from_db()
    assert handoff.status == "pending"
    client.post(
        reverse("pipeline:handoff-reject", args=[handoff.pk]), {"reason": "Student, no budget"}
    )
    handoff.refresh_from_db()
    lead.refresh_from_db()
    assert (handoff.status, handoff.reason) == ("rejected", "Student, no budget")
    assert lead.status == Lead.Status.WORKING
    page = client_for(marketer).get(lead.get_absolute_url()).content.decode()
    assert "Student, no budget" in page


def test_a_handoff_is_decided_once(marketer, rep, teammate, sales_team):
    lead = LeadFactory(owner=marketer)
    handoff = lead_handoff(lead=lead, by=marketer, to_team=sales_team)
    handoff_accept(handoff=handoff, by=rep)
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        handoff_accept(handoff=handoff, by=teammate)
    lead.refresh_from_db()
    assert lead.owner == rep


def test_a_manager_accepts_for_a_named_rep(client_for, marketer, manager, teammate, sales_team):
    lead = LeadFactory(owner=marketer)
    handoff = lead_handoff(lead=lead, by=marketer, to_team=sales_team)
    response = client_for(manager).post(
        f"/api/v1/handoffs/{handoff.pk}/accept/",
        {"assignee": teammate.pk},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    lead.refresh_from_db()
    assert (lead.owner, lead.status) == (teammate, "sql")


def test_lead_visibility_follows_roles(
    client_for,
    marketer,
    rep,
    teammate,
    other_team_rep,
    manager,
    cs,
    executive,
    sales_team,
    other_sales_team,
):
    own = LeadFactory(owner=rep)
    mates = LeadFactory(owner=teammate)
    handed_to_team = LeadFactory(owner=marketer)
    lead_handoff(lead=handed_to_team, by=marketer, to_team=sales_team)
    handed_elsewhere = LeadFactory(owner=marketer)
    lead_handoff(lead=handed_elsewhere, by=marketer, to_team=other_sales_team)
    everything = {own, mates, handed_to_team, handed_elsewhere}
    expected = {
        rep: {own, handed_to_team},
        manager: {own, mates, handed_to_team},
        other_team_rep: {handed_elsewhere},
        marketer: everything,
        cs: everything,
        executive: everything,
    }
    for user, visible in expected.items():
        client = client_for(user)
        for lead in everything:
            page = client.get(lead.get_absolute_url()).status_code
            api = client.get(f"/api/v1/leads/{lead.pk}/").status_code
            assert (page, api) == ((200, 200) if lead in visible else (404, 404)), (user, lead)
        listed = {row["id"] for row in client.get("/api/v1/leads/").json()["results"]}
        assert listed == {lead.pk for lead in visible}, user


def test_only_the_owner_marketers_and_the_team_manager_edit_a_lead(
    client_for, marketer, rep, teammate, manager, executive
):
    lead = LeadFactory(owner=teammate)
    for user, status in ((marketer, 200), (manager, 200), (teammate, 200), (executive, 403)):
        assert (
            client_for(user).get(reverse("pipeline:lead-edit", args=[lead.pk])).status_code
            == status
        ), user
    assert client_for(rep).get(reverse("pipeline:lead-edit", args=[lead.pk])).status_code == 404


def test_another_team_cannot_accept(client_for, marketer, other_team_rep, sales_team):
    lead = LeadFactory(owner=marketer)
    handoff = lead_handoff(lead=lead, by=marketer, to_team=sales_team)
    client = client_for(other_team_rep)
    assert client.post(f"/api/v1/handoffs/{handoff.pk}/accept/").status_code == 404
    assert client.post(f"/api/v1/leads/{lead.pk}/accept/").status_code == 404
    handoff.refresh_from_db()
    assert handoff.status == "pending"


def test_only_marketing_hands_off(client_for, rep, sales_team):
    lead = LeadFactory(owner=rep)
    assert hand_off(client_for(rep), lead, sales_team).status_code == 403
    api = client_for(rep).post(
        f"/api/v1/leads/{lead.pk}/handoff/",
        {"to_team": sales_team.pk},
        content_type="application/json",
    )
    assert api.status_code == 403
    assert not Handoff.objects.exists()


def test_handoff_input_errors(client_for, marketer, sales_team, other_team_rep, cs):
    lead = LeadFactory(owner=marketer)
    client = client_for(marketer)
    # A rep of another team, and a CS team, are refused with a field error.
    response = hand_off(client, lead, sales_team, to_user=other_team_rep)
    assert response.status_code == 200 and "to_user" in response.context["form"].errors
    api = client.post(
        f"/api/v1/leads/{lead.pk}/handoff/",
        {"to_team": cs.team_id},
        content_type="application/json",
    )
    assert api.status_code == 400 and "to_team" in api.json()
    assert (
        client.post(
            f"/api/v1/leads/{lead.pk}/handoff/", {}, content_type="application/json"
        ).status_code
        == 400
    )
    assert not Handoff.objects.exists()
    lead.refresh_from_db()
    assert lead.status == "new"


@pytest.mark.parametrize(
    "data, field",
    [
        ({"source": "web"}, "__all__"),
        ({"first_name": "A", "source": ""}, "source"),
        ({"first_name": "A", "source": "web", "email": "not-an-email"}, "email"),
        ({"first_name": "A", "source": "web", "score": "150"}, "score"),
        ({"first_name": "A", "source": "web", "status": "disqualified"}, "disqualified_reason"),
        ({"first_name": "A", "source": "web", "status": "converted"}, "status"),
    ],
)
def test_bad_lead_input(client_for, marketer, data, field):
    client = client_for(marketer)
    form_data = {"status": "new", "owner": marketer.pk, **data}
    page = client.post(reverse("pipeline:lead-create"), form_data)
    assert page.status_code == 200
    assert field in page.context["form"].errors
    api = client.post("/api/v1/leads/", form_data, content_type="application/json")
    assert api.status_code == 400
    assert not Lead.objects.exists()


def test_business_days_skip_the_weekend():
    org = Organisation.get()
    org.weekend_days = [5, 6]
    org.timezone = "Asia/Tehran"
    tehran = ZoneInfo("Asia/Tehran")
    wednesday = datetime(2026, 11, 25, 15, 0, tzinfo=tehran)
    thursday = datetime(2026, 11, 26, 15, 0, tzinfo=tehran)
    assert add_business_days(wednesday, 2, org) == datetime(2026, 11, 27, 15, 0, tzinfo=tehran)
    assert add_business_days(thursday, 2, org) == datetime(2026, 11, 30, 15, 0, tzinfo=tehran)
    org.weekend_days = [4]  # Friday, as in Iran
    assert add_business_days(thursday, 2, org) == datetime(2026, 11, 29, 15, 0, tzinfo=tehran)


def test_sla_states_and_the_breached_list(client_for, marketer, manager, sales_team):
    now = timezone.now()
    hours = timezone.timedelta(hours=1)
    fresh = Handoff.objects.create(
        kind="lead_to_sales",
        lead=LeadFactory(owner=marketer),
        to_team=sales_team,
        created_at=now,
        sla_due_at=now + 48 * hours,
    )
    soon = Handoff.objects.create(
        kind="lead_to_sales",
        lead=LeadFactory(owner=marketer),
        to_team=sales_team,
        created_at=now - 40 * hours,
        sla_due_at=now + 8 * hours,
    )
    late = Handoff.objects.create(
        kind="lead_to_sales",
        lead=LeadFactory(owner=marketer),
        to_team=sales_team,
        created_at=now - 50 * hours,
        sla_due_at=now - 2 * hours,
    )
    assert [h.sla_state(now) for h in (fresh, soon, late)] == ["on_time", "due_soon", "breached"]
    for user in (manager, marketer):
        rows = (
            client_for(user)
            .get(reverse("pipeline:handoff-queue") + f"?sla=breached&team={sales_team.pk}")
            .context["rows"]
        )
        assert rows == [late], user


@pytest.mark.parametrize("url", ["pipeline:lead-list", "pipeline:handoff-queue"])
def test_lead_pages_run_a_bounded_number_of_queries(
    client_for, marketer, sales_team, url, django_assert_max_num_queries
):
    for _ in range(60):
        lead_handoff(lead=LeadFactory(owner=marketer), by=marketer, to_team=sales_team)
    client = client_for(marketer)
    with django_assert_max_num_queries(8):
        response = client.get(reverse(url) + f"?team={sales_team.pk}")
    assert response.status_code == 200
    assert len(response.context["rows"]) == (50 if url == "pipeline:lead-list" else 60)


def test_lead_detail_runs_a_bounded_number_of_queries(
    client_for, marketer, sales_team, django_assert_max_num_queries
):
    lead = LeadFactory(owner=marketer)
    lead_handoff(lead=lead, by=marketer, to_team=sales_team)
    client = client_for(marketer)
    with django_assert_max_num_queries(13):  # 12, and one for the records merged into it
        assert client.get(lead.get_absolute_url()).status_code == 200
