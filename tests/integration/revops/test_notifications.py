"""Notifications: each kind fires once per event, for the right people, by e-mail only when
chosen, in the reader's language, never e-mailed twice (issue 12)."""

import re
import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crm import services as crm_services
from metrics.models import Goal
from metrics.services import kpi_recompute_day, org_today
from pipeline.models import Handoff
from pipeline.services import handoff_sla_notify, lead_handoff, opportunity_move, opportunity_update
from revops import notifications
from revops.models import Notification
from revops.notifications import send_pending_emails, text
from tests.factories import (
    AccountFactory,
    ActivityFactory,
    LeadFactory,
    OpportunityFactory,
    UserFactory,
    default_stages,
)

pytestmark = pytest.mark.django_db
Kind = Notification.Kind


def told(kind, event=None):
    rows = Notification.objects.filter(kind=kind)
    if event:
        rows = rows.filter(event=event)
    return sorted(rows.values_list("recipient__email", flat=True))


@pytest.fixture
def queued(monkeypatch):
    """The e-mail task is queued after the commit; here it runs at once."""
    calls = []
    monkeypatch.setattr(notifications, "_queue_emails", lambda: calls.append(send_pending_emails()))
    return calls


def test_a_handoff_tells_its_team_once_and_mails_them_after_the_commit(
    marketer, rep, teammate, manager, sales_team, queued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        handoff = lead_handoff(
            lead=LeadFactory(owner=marketer, first_name="Nima"), by=marketer, to_team=sales_team
        )
    assert told(Kind.HANDOFF_ADDRESSED) == sorted([rep.email, teammate.email, manager.email])
    assert len(mail.outbox) == 3 and queued == [{"sent": 3, "failed": 0}]
    message = next(m for m in mail.outbox if m.to == [rep.email])
    assert message.subject == "Daramad: A handoff addressed to me or my team"
    assert "Mark Eter handed you Nima" in message.body
    assert f"http://127.0.0.1:8000/leads/{handoff.lead_id}/" in message.body
    # The same event reported again tells nobody again and sends nothing.
    notifications_before = Notification.objects.count()
    assert notifications.notify([rep], Kind.HANDOFF_ADDRESSED, f"handoff:{handoff.pk}") == 0
    send_pending_emails()
    assert Notification.objects.count() == notifications_before and len(mail.outbox) == 3


def test_a_handoff_to_one_person_tells_only_them(marketer, rep, teammate, sales_team):
    lead_handoff(lead=LeadFactory(owner=marketer), by=marketer, to_team=sales_team, to_user=rep)
    assert told(Kind.HANDOFF_ADDRESSED) == [rep.email]


def test_e_mail_follows_each_users_choice(marketer, rep, teammate, sales_team):
    teammate.email_notifications = ["task_due"]
    teammate.save()
    lead_handoff(lead=LeadFactory(owner=marketer), by=marketer, to_team=sales_team)
    send_pending_emails()
    assert told(Kind.HANDOFF_ADDRESSED) == sorted([rep.email, teammate.email])
    assert [m.to for m in mail.outbox] == [[rep.email]]


def test_the_e_mail_is_in_the_readers_language(marketer, sales_team):
    reader = UserFactory(team=sales_team, language="fa", full_name="سارا رحیمی")
    lead_handoff(
        lead=LeadFactory(owner=marketer, first_name="نیما"), by=marketer, to_team=sales_team
    )
    send_pending_emails()
    [message] = mail.outbox
    assert message.to == [reader.email]
    assert "Daramad" in message.subject and "handoff" not in message.subject.lower()
    assert "نیما" in message.body and "سارا" in message.body
    html = message.alternatives[0].content
    assert 'dir="rtl"' in html and 'lang="fa"' in html
    # Dates in the reader's calendar and digits (the organisation's: Jalali here?).
    assert any("\u06f0" <= ch <= "\u06f9" for ch in message.body)


def test_no_e_mail_is_sent_twice_even_by_two_workers_at_once(
    marketer, sales_team, transactional_db
):
    for n in range(8):
        UserFactory(team=sales_team, email=f"r{n}@example.com")
    lead_handoff(lead=LeadFactory(owner=marketer), by=marketer, to_team=sales_team)

    def worker():
        send_pending_emails()
        connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(m.to[0] for m in mail.outbox) == [f"r{n}@example.com" for n in range(8)]
    assert set(Notification.objects.values_list("email", flat=True)) == {"sent"}


def test_a_refused_e_mail_is_tried_again_later_and_then_sent_once(
    marketer, rep, sales_team, monkeypatch
):
    lead_handoff(lead=LeadFactory(owner=marketer), by=marketer, to_team=sales_team, to_user=rep)

    def refuse(self, *args, **kwargs):
        raise ConnectionRefusedError("SMTP down")

    monkeypatch.setattr("django.core.mail.EmailMultiAlternatives.send", refuse)
    assert send_pending_emails() == {"sent": 0, "failed": 1}
    row = Notification.objects.get()
    assert (row.email, row.email_attempts) == ("pending", 1)
    monkeypatch.undo()
    assert send_pending_emails() == {"sent": 1, "failed": 0}
    assert send_pending_emails() == {"sent": 0, "failed": 0}
    assert len(mail.outbox) == 1


def test_an_sla_about_to_end_and_ended_tells_once_each(
    marketer, rep, manager, teammate, sales_team
):
    handoff = lead_handoff(
        lead=LeadFactory(owner=marketer), by=marketer, to_team=sales_team, to_user=rep
    )
    Notification.objects.all().delete()
    window = handoff.sla_due_at - handoff.created_at
    assert handoff_sla_notify(now=handoff.created_at + window / 2) == 0
    soon = handoff.sla_due_at - window / 8
    assert handoff_sla_notify(now=soon) == 1
    assert handoff_sla_notify(now=soon + timedelta(minutes=1)) == 0
    assert told(Kind.SLA_DUE_SOON) == [rep.email]
    late = handoff.sla_due_at + timedelta(minutes=1)
    assert handoff_sla_notify(now=late) == 2
    assert handoff_sla_notify(now=late + timedelta(hours=5)) == 0
    # The rep it was addressed to and the team's manager; not the teammate.
    assert told(Kind.SLA_BREACHED) == sorted([rep.email, manager.email])
    # An accepted handoff is never late.
    Handoff.objects.filter(pk=handoff.pk).update(status="accepted", decided_at=timezone.now())
    Notification.objects.all().delete()
    assert handoff_sla_notify(now=late) == 0


def test_a_deal_changed_by_someone_else_tells_its_owner(rep, manager, teammate):
    stages = default_stages()
    deal = OpportunityFactory(owner=rep, stage=stages["Discovery"], name="Atlas")
    with CaptureQueriesContext(connection) as queries:
        opportunity_move(
            opportunity_id=deal.pk, stage=stages["Proposal"], by=rep, expected_version=deal.version
        )
    assert told(Kind.DEAL_CHANGED) == []  # their own change, which costs no query to tell
    assert not [
        q for q in queries if "revops_notification" in q["sql"] or "revops_user" in q["sql"]
    ]
    moved = opportunity_move(
        opportunity_id=deal.pk,
        stage=stages["Negotiation"],
        by=manager,
        expected_version=deal.version + 1,
    )
    assert told(Kind.DEAL_CHANGED) == [rep.email]
    assert text(Notification.objects.get()) == "Mona Manager changed your deal Atlas: stage."
    # Handing it to a teammate tells both, once, with what changed.
    opportunity_update(
        opportunity_id=deal.pk,
        data={"owner": teammate, "amount": Decimal("5000")},
        by=manager,
        expected_version=moved.version,
    )
    changed = Notification.objects.filter(event=f"deal:{deal.pk}:v{moved.version + 1}")
    assert sorted(changed.values_list("recipient__email", flat=True)) == sorted(
        [rep.email, teammate.email]
    )
    assert changed.first().params["fields"] == ["amount", "owner"]


def test_a_task_due_tells_its_assignee_once_per_due_date(rep):
    today = timezone.localdate()
    task = ActivityFactory(kind="task", owner=rep, subject="Call back Atlas", due_on=today)
    ActivityFactory(kind="task", owner=rep, subject="Later", due_on=today + timedelta(days=3))
    ActivityFactory(kind="task", owner=rep, subject="Done", due_on=today, done=True)
    ActivityFactory(kind="call", owner=rep, subject="A call", due_on=today)
    assert crm_services.tasks_due_notify(today) == 1
    assert crm_services.tasks_due_notify(today) == 0
    assert told(Kind.TASK_DUE) == [rep.email]
    # Postponed, it reminds again when the new day comes.
    task.due_on = today + timedelta(days=1)
    task.save()
    assert crm_services.tasks_due_notify(today) == 0
    assert crm_services.tasks_due_notify(today + timedelta(days=1)) == 1


def test_a_renewal_tells_the_accounts_owner(cs):
    account = AccountFactory(owner=cs, name="Zagros")
    crm_services.subscription_create(
        account=account,
        by=cs,
        product="Seats",
        mrr=Decimal("500"),
        currency="USD",
        start_on=timezone.localdate() - timedelta(days=300),
        end_on=timezone.localdate() + timedelta(days=60),
    )
    assert crm_services.renewals_create() == 1
    [row] = Notification.objects.filter(kind=Kind.RENEWAL_CREATED)
    assert row.recipient == cs and "Zagros: Seats" in text(row)
    crm_services.renewals_create()
    assert Notification.objects.filter(kind=Kind.RENEWAL_CREATED).count() == 1


def test_a_goal_off_track_tells_its_setter_and_the_teams_managers(
    executive, manager, rep, sales_team
):
    from metrics.periods import current_period
    from metrics.services import goals_off_track_notify

    today = org_today()
    start, _last = current_period("quarter", today, "gregorian")
    stages = default_stages()
    OpportunityFactory(
        owner=rep, stage=stages["Closed won"], status="won", amount=1000, closed_on=today
    )
    kpi_recompute_day()
    ahead = Goal.objects.create(
        kpi="deals_won",
        grain="quarter",
        calendar="gregorian",
        period_start=start,
        scope_kind="team",
        scope_id=sales_team.pk,
        target=Decimal("1"),
        created_by=executive,
    )
    behind = Goal.objects.create(
        kpi="bookings",
        grain="quarter",
        calendar="gregorian",
        period_start=start,
        scope_kind="team",
        scope_id=sales_team.pk,
        target=Decimal("10000000"),
        created_by=executive,
    )
    assert goals_off_track_notify(today) == 2
    assert goals_off_track_notify(today) == 0
    assert told(Kind.GOAL_OFF_TRACK) == sorted([executive.email, manager.email])
    row = Notification.objects.filter(kind=Kind.GOAL_OFF_TRACK).first()
    assert row.event == f"goal:{behind.pk}" and ahead.pk != behind.pk
    assert text(row).startswith("The goal “Bookings at least 10000000” is off track: 1000,")


# --- In the app ---------------------------------------------------------------------------


def test_the_bell_counts_unread_in_one_cheap_request(
    client_for, rep, teammate, django_assert_max_num_queries
):
    for n in range(3):
        notifications.notify([rep], Kind.TASK_DUE, f"task:{n}", params={"subject": f"T{n}"})
    notifications.notify([teammate], Kind.TASK_DUE, "task:9", params={"subject": "Theirs"})
    Notification.objects.filter(event="task:0").update(read_at=timezone.now())
    client = client_for(rep)
    page = client.get("/").content.decode()
    assert 'hx-get="/notifications/bell/"' in page  # loaded after the page, not in it
    with django_assert_max_num_queries(3):
        bell = client.get("/notifications/bell/")
    assert bell.status_code == 200 and 'data-unread="2"' in bell.content.decode()
    assert 'hx-trigger="every 30s"' in bell.content.decode()


def test_the_list_shows_mine_in_my_language_and_marks_them_read(client_for, rep, teammate):
    today = timezone.localdate()
    task = ActivityFactory(kind="task", owner=rep, subject="Call Atlas", due_on=today)
    crm_services.tasks_due_notify(today)
    notifications.notify([teammate], Kind.TASK_DUE, "task:999", params={"subject": "Secret"})
    client = client_for(rep)
    page = client.get("/notifications/").content.decode()
    assert "Your task Call Atlas is due on" in page and "Secret" not in page
    [mine] = Notification.objects.filter(recipient=rep)
    # Opening it marks it read and goes to the record.
    opened = client.get(f"/notifications/{mine.pk}/")
    assert opened.status_code == 302 and opened["Location"] == task.get_absolute_url()
    mine.refresh_from_db()
    assert mine.read_at is not None
    # Someone else's is not there at all.
    theirs = Notification.objects.get(recipient=teammate)
    assert client.get(f"/notifications/{theirs.pk}/").status_code == 404
    client.post("/notifications/read/", {"id": theirs.pk})
    theirs.refresh_from_db()
    assert theirs.read_at is None
    rep.language = "fa"
    rep.save()
    persian = client.get("/notifications/", HTTP_ACCEPT_LANGUAGE="fa").content.decode()
    assert 'dir="rtl"' in persian and "Call Atlas" in persian
    assert "is due on" not in persian


def test_mark_all_read(client_for, rep):
    for n in range(3):
        notifications.notify([rep], Kind.TASK_DUE, f"task:{n}", params={"subject": f"T{n}"})
    client = client_for(rep)
    assert "3 unread" in client.get("/notifications/").content.decode()
    response = client.post("/notifications/read/", HTTP_HX_REQUEST="true", follow=True)
    assert response.redirect_chain == [("/notifications/", 302)]
    assert response.status_code == 200 and "0 unread" in response.content.decode()
    assert not Notification.objects.filter(read_at__isnull=True).exists()
    assert "data-unread" not in client.get("/notifications/bell/").content.decode()


def test_each_user_chooses_what_comes_by_e_mail_on_their_profile(client_for, rep):
    client = client_for(rep)
    page = client.get("/profile/").content.decode()
    boxes = dict(re.findall(r'value="(\w+)" id="id_email_notifications_\d+"( checked)?', page))
    assert boxes["handoff_addressed"] == " checked" and boxes["deal_changed"] == ""
    assert set(boxes) == set(Kind.values)
    response = client.post(
        "/profile/",
        {
            "full_name": rep.full_name,
            "language": "en",
            "calendar": "",
            "latin_digits": "on",
            "email_notifications": ["deal_changed", "goal_off_track"],
        },
    )
    assert response.status_code == 302
    rep.refresh_from_db()
    assert rep.email_notifications == ["deal_changed", "goal_off_track"]
    assert rep.latin_digits is True and rep.toman is False
    refused = client.post(
        "/profile/",
        {"full_name": rep.full_name, "language": "en", "email_notifications": ["nonsense"]},
    )
    assert refused.status_code == 200 and "nonsense" in refused.content.decode()
    rep.refresh_from_db()
    assert rep.email_notifications == ["deal_changed", "goal_off_track"]


def test_the_sweeps_cost_the_same_for_one_finding_or_many(
    marketer, rep, manager, sales_team, django_assert_max_num_queries
):
    handoffs = [
        lead_handoff(lead=LeadFactory(owner=marketer), by=marketer, to_team=sales_team)
        for _ in range(8)
    ]
    Handoff.objects.filter(pk__in=[h.pk for h in handoffs]).update(
        sla_due_at=timezone.now() - timedelta(minutes=5)
    )
    # the pending handoffs, the team's receivers, its managers, one insert
    with django_assert_max_num_queries(4):
        assert handoff_sla_notify() == 8 * 2  # the rep and the manager, for each
    today = timezone.localdate()
    account = AccountFactory(owner=rep)
    for n in range(12):
        ActivityFactory(kind="task", owner=rep, account=account, subject=f"T{n}", due_on=today)
    with django_assert_max_num_queries(2):  # the tasks due (with their owners), one insert
        assert crm_services.tasks_due_notify(today) == 12
