"""The world of the access-control sweep (test_access_sweep.py) and what roles.md lets each
persona do with each of its records.

Every record carries a unique marker (`Zq007x`) in a field its pages and lists show, so a
response can be searched for the records it reveals. The oracle below is written from
shared/spec/roles.md over this description (owners, teams, handoff states), never from the
app's querysets, so that the sweep can catch the app disagreeing with the spec.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from django.core.files.base import ContentFile
from django.utils import timezone

from crm.models import Account, Activity, Contact, HealthScore, Subscription
from metrics.models import Goal, Quota
from metrics.periods import periods_of_year
from pipeline import services as pipeline_services
from pipeline.models import Handoff, Lead, Opportunity, Stage, StageChange
from revops.models import ImportUpload, Notification, Organisation
from tests.factories import default_pipeline

PERSONAS = [
    "rep",
    "teammate",
    "other_team_rep",
    "manager",
    "marketer",
    "cs",
    "executive",
    "admin_user",
]
ROLE = {
    "rep": "rep",
    "teammate": "rep",
    "other_team_rep": "rep",
    "manager": "manager",
    "marketer": "marketer",
    "cs": "cs",
    "executive": "executive",
    "admin_user": "admin",
}
TEAM = {
    "rep": "north",
    "teammate": "north",
    "other_team_rep": "south",
    "manager": "north",
    "marketer": "marketing",
    "cs": "cs",
    "executive": "leadership",
    "admin_user": "revops",
}
# roles.md: these read every lead and every deal.
READ_ALL_DEALS_AND_LEADS = {"marketer", "cs", "executive", "admin"}


@dataclass
class Obj:
    """One record of the world: its kind, its row, its marker and the facts the rules of
    roles.md are about (owners and creators as persona keys)."""

    key: str
    kind: str
    pk: int
    marker: str = ""
    owner: str | None = None
    facts: dict = field(default_factory=dict)


class World:
    def __init__(self, users: dict, teams: dict):
        self.users = users  # persona key -> User
        self.teams = teams  # "north", "south", "cs" -> Team
        self.objects: dict[str, Obj] = {}
        self._count = 0

    def marker(self) -> str:
        self._count += 1
        return f"Zq{self._count:03d}x"

    def add(self, key, kind, instance, marker="", owner=None, **facts) -> Obj:
        obj = Obj(key, kind, instance.pk, marker, owner, facts)
        self.objects[key] = obj
        return obj

    def of_kind(self, kind: str) -> list[Obj]:
        return [o for o in self.objects.values() if o.kind == kind]

    def team_of(self, persona: str | None) -> str | None:
        return TEAM.get(persona) if persona else None


def build(users: dict, teams: dict, media_root) -> World:
    """Accounts, contacts, activities, leads in every handoff state, deals of every kind of
    owner (a CS-owned renewal among them), subscriptions, handoffs both ways, quotas,
    imports, a goal, stage history and health scores."""
    w = World(users, teams)
    u = users
    base = Organisation.get().base_currency
    today = timezone.localdate()
    stages = {s.name: s for s in default_pipeline().stages.all()}
    first_open = min(
        (s for s in stages.values() if s.outcome == Stage.Outcome.OPEN), key=lambda s: s.position
    )
    won_stage = next(s for s in stages.values() if s.outcome == Stage.Outcome.WON)

    def account(key, owner, deleted=False):
        marker = w.marker()
        row = Account.objects.create(name=f"Acct {marker}", owner=u.get(owner), domain="")
        return w.add(key, "account", row, marker, owner, deleted=deleted), row

    _, acc_rep = account("acc_rep", "rep")
    _, acc_mate = account("acc_mate", "teammate")
    _, acc_other = account("acc_other", "other_team_rep")
    _, acc_won = account("acc_won", "rep")
    acc_cs_obj, acc_cs = account("acc_cs", "teammate")  # CS takes it over below
    account("acc_nobody", None)
    acc_del_obj, acc_del = account("acc_deleted", "rep")

    def contact(key, acc, creator, acc_key):
        marker = w.marker()
        row = Contact.objects.create(
            account=acc, first_name=f"Cont {marker}", created_by=u[creator]
        )
        return w.add(key, "contact", row, marker, None, account=acc_key, creator=creator)

    contact("con_rep", acc_rep, "rep", "acc_rep")
    contact("con_other", acc_other, "other_team_rep", "acc_other")
    contact("con_orphan", None, "teammate", None)
    contact("con_cs", acc_cs, "teammate", "acc_cs")
    contact("con_deleted", acc_del, "rep", "acc_deleted")

    # --- Leads in each handoff state ------------------------------------------------------
    def lead(key, owner, **facts):
        marker = w.marker()
        row = Lead.objects.create(
            first_name=f"Lead {marker}", company="Sweep Co", source="web", owner=u[owner]
        )
        return w.add(key, "lead", row, marker, owner, **facts), row

    def handoff(key, row, to_team, to_user=None):
        made = pipeline_services.lead_handoff(
            lead=row, by=u["marketer"], to_team=teams[to_team], to_user=u.get(to_user)
        )
        return made

    lead("lead_rep", "rep")
    _, lead_mate = lead("lead_mate", "teammate")
    _, lead_other = lead("lead_other", "other_team_rep")
    _, lead_team = lead("lead_to_team", "marketer")
    _, lead_to_mate = lead("lead_to_mate", "marketer")
    _, lead_south = lead("lead_to_south", "marketer")
    lead_acc_obj, lead_acc = lead("lead_accepted", "marketer")
    _, lead_rej = lead("lead_rejected", "marketer")
    lead("lead_marketer", "marketer")

    handoffs = [
        ("h_to_team", "lead_to_team", handoff("h_to_team", lead_team, "north")),
        ("h_to_mate", "lead_to_mate", handoff("h_to_mate", lead_to_mate, "north", "teammate")),
        ("h_to_south", "lead_to_south", handoff("h_to_south", lead_south, "south")),
    ]
    accepted = handoff("h_accepted", lead_acc, "north")
    pipeline_services.handoff_accept(handoff=accepted, by=u["rep"])
    lead_acc_obj.owner = "rep"
    rejected = handoff("h_rejected", lead_rej, "north")
    pipeline_services.handoff_reject(handoff=rejected, by=u["teammate"], reason="Not a fit")
    handoffs += [
        ("h_accepted", "lead_accepted", accepted),
        ("h_rejected", "lead_rejected", rejected),
    ]
    for key, lead_key, row in handoffs:
        row.refresh_from_db()
        w.objects[lead_key].facts["handoffs"] = [key]
        w.add(
            key,
            "handoff",
            row,
            w.objects[lead_key].marker,  # a queue row shows its lead
            None,
            handoff_kind="lead_to_sales",
            subject=lead_key,
            status=row.status,
            to_team=_team_key(row.to_team_id, teams),
            to_user=_persona(row.to_user_id, users),
        )

    # --- Deals -------------------------------------------------------------------------------
    def deal(key, acc, acc_key, owner, kind=Opportunity.Kind.NEW_BUSINESS, months=None):
        marker = w.marker()
        row = pipeline_services.opportunity_create(
            opportunity=Opportunity(
                account=acc,
                name=f"Deal {marker}",
                owner=u[owner],
                stage=first_open,
                amount=Decimal("12000"),
                currency=base,
                kind=kind,
                contract_months=months,
                expected_close_on=today + timedelta(days=20),
                forecast_category="pipeline",
            ),
            by=u[owner],
        )
        return w.add(key, "opportunity", row, marker, owner, account=acc_key), row

    deal("opp_rep", acc_rep, "acc_rep", "rep")
    _, opp_mate = deal("opp_mate", acc_mate, "acc_mate", "teammate")
    deal("opp_other", acc_other, "acc_other", "other_team_rep")
    deal("opp_manager", acc_rep, "acc_rep", "manager")
    _, opp_won = deal("opp_won", acc_won, "acc_won", "rep", months=12)
    _, opp_won_mate = deal("opp_won_mate", acc_cs, "acc_cs", "teammate", months=12)
    deal("opp_deleted", acc_del, "acc_deleted", "rep")
    for row, owner in ((opp_won, "rep"), (opp_won_mate, "teammate")):
        pipeline_services.opportunity_move(
            opportunity_id=row.pk, stage=won_stage, by=u[owner], expected_version=row.version
        )
        row.refresh_from_db()
        w.objects[f"opp_{'won' if owner == 'rep' else 'won_mate'}"].facts["won"] = True
    deal_handoffs = {}
    for key, row in (("h_deal_pending", opp_won), ("h_deal_accepted", opp_won_mate)):
        deal_handoffs[key] = Handoff.objects.get(opportunity=row, kind=Handoff.Kind.DEAL_TO_CS)
    pipeline_services.handoff_accept(handoff=deal_handoffs["h_deal_accepted"], by=u["cs"])
    acc_cs_obj.owner = "cs"  # roles.md: the account passes to the CS manager who accepts
    # The renewal CS owns (as renewals_create would open it).
    deal(
        "opp_renewal_cs",
        acc_cs,
        "acc_cs",
        "cs",
        kind=Opportunity.Kind.RENEWAL,
        months=12,
    )
    for key, opp_key in (("h_deal_pending", "opp_won"), ("h_deal_accepted", "opp_won_mate")):
        row = deal_handoffs[key]
        row.refresh_from_db()
        w.add(
            key,
            "handoff",
            row,
            w.objects[opp_key].marker,
            None,
            handoff_kind="deal_to_cs",
            subject=opp_key,
            status=row.status,
            to_team=_team_key(row.to_team_id, teams),
            to_user=_persona(row.to_user_id, users),
        )
        for item in row.checklist.all()[:1]:
            w.add(f"item_{key}", "checklist_item", item, "", None, handoff=key)
    # Delete the account only now: its deal, contact and activities go with it.
    # --- Subscriptions ---------------------------------------------------------------------
    for key, source in (("sub_draft", opp_won), ("sub_confirmed", opp_won_mate)):
        row = Subscription.objects.get(source_opportunity=source)
        marker = w.marker()
        row.product = f"Plan {marker}"
        row.save(update_fields=["product"])
        acc_key = "acc_won" if source == opp_won else "acc_cs"
        w.add(key, "subscription", row, marker, None, account=acc_key, status=row.status)

    def subscription(key, acc, acc_key):
        marker = w.marker()
        row = Subscription.objects.create(
            account=acc,
            product=f"Plan {marker}",
            mrr=Decimal("100"),
            currency=base,
            start_on=today - timedelta(days=40),
        )
        w.add(key, "subscription", row, marker, None, account=acc_key, status=row.status)

    subscription("sub_rep", acc_rep, "acc_rep")
    subscription("sub_deleted", acc_del, "acc_deleted")

    # --- Activities ------------------------------------------------------------------------
    def activity(key, owner, task=False, **links):
        marker = w.marker()
        rows = {name: value for name, (value, _key) in links.items()}
        kind = {"kind": "task", "due_on": today} if task else {"kind": "call"}
        row = Activity.objects.create(subject=f"Call {marker}", owner=u[owner], **kind, **rows)
        facts = {name: link_key for name, (_value, link_key) in links.items()}
        w.add(key, "activity", row, marker, owner, task=task, **facts)

    activity("act_acc_rep", "rep", account=(acc_rep, "acc_rep"))
    activity("act_lead_other", "other_team_rep", lead=(lead_other, "lead_other"))
    activity(
        "act_opp_mate",
        "teammate",
        account=(acc_mate, "acc_mate"),
        opportunity=(opp_mate, "opp_mate"),
    )
    activity("act_marketer", "marketer", account=(acc_other, "acc_other"))
    activity("act_lead_to_team", "marketer", lead=(lead_team, "lead_to_team"))
    activity("act_deleted", "rep", account=(acc_del, "acc_deleted"))
    # Tasks, due today: each assignee's list.
    activity("task_rep", "rep", task=True, account=(acc_rep, "acc_rep"))
    activity("task_mate", "teammate", task=True, lead=(lead_mate, "lead_mate"))
    activity("task_other", "other_team_rep", task=True, account=(acc_other, "acc_other"))

    # --- Stage history and health ----------------------------------------------------------
    for opp in w.of_kind("opportunity"):
        change = StageChange.objects.filter(opportunity_id=opp.pk).order_by("pk").first()
        w.add(f"sc_{opp.key}", "stage_change", change, "", None, opportunity=opp.key)
    for key, acc, acc_key in (
        ("hs_rep", acc_rep, "acc_rep"),
        ("hs_deleted", acc_del, "acc_deleted"),
    ):
        row = HealthScore.objects.create(account=acc, computed_on=today, score=42)
        w.add(key, "health", row, "", None, account=acc_key)

    # --- Pipelines and stages: settings everyone reads -------------------------------------
    pipeline = default_pipeline()
    w.add("pipeline_sales", "pipeline", pipeline)
    for stage in pipeline.stages.all():
        w.add(f"stage_{stage.pk}", "stage", stage)

    # --- Quotas: the organisation calendar's current quarter --------------------------------
    calendar = Organisation.get().calendar
    quarter = next(p for p in periods_of_year("quarter", today, calendar) if p[0] <= today <= p[1])
    for index, persona in enumerate(("rep", "teammate", "other_team_rep", "manager")):
        amount = Decimal(613 + index * 11)  # three digits: no thousands separator to match
        row = Quota.objects.create(
            user=u[persona], period_start=quarter[0], period_end=quarter[1], amount=amount
        )
        w.add(f"quota_{persona}", "quota", row, str(amount), persona)

    # --- Imports and a goal -----------------------------------------------------------------
    for key, creator in (("imp_marketer", "marketer"), ("imp_admin", "admin_user")):
        row = ImportUpload(created_by=u[creator], entity="leads.csv", original_name="leads.csv")
        row.file.save("leads.csv", ContentFile(b"first_name,email\nAna,ana@x.io\n"), save=False)
        row.rejects.save("rejects.csv", ContentFile(b"row,problem\n2,bad\n"), save=False)
        row.mapping = {"first_name": "first_name", "email": "email"}
        row.save()
        w.add(key, "import", row, "", creator)
    goal = Goal.objects.create(
        kpi="bookings",
        grain="month",
        calendar=calendar,
        period_start=today.replace(day=1),
        scope_kind="org",
        target=Decimal("1000"),
        created_by=u["executive"],
    )
    w.add("goal_org", "goal", goal)
    for persona in ("rep", "cs"):
        marker = w.marker()
        row = Notification.objects.create(
            recipient=u[persona],
            kind=Notification.Kind.SLA_BREACHED,
            event=f"sweep:{marker}",
            url="/",
            params={"subject": f"Note {marker}"},
        )
        w.add(f"notification_{persona}", "notification", row, marker, persona)

    # The deleted account last: its deal, contact, activity and subscription were made alive.
    Account.objects.filter(pk=acc_del.pk).update(is_deleted=True, deleted_at=timezone.now())
    acc_del_obj.facts["deleted"] = True
    assert media_root  # the files above live in the test's own MEDIA_ROOT
    return w


def _team_key(team_id, teams) -> str | None:
    return next((key for key, team in teams.items() if team.pk == team_id), None)


def _persona(user_id, users) -> str | None:
    return next((key for key, user in users.items() if user.pk == user_id), None)


# --- The oracle: shared/spec/roles.md over the world's facts ---------------------------------


class Rules:
    """What roles.md lets `persona` do with each record of world `w`."""

    def __init__(self, w: World, persona: str):
        self.w = w
        self.p = persona
        self.role = ROLE[persona]
        self.team = TEAM[persona]

    def _o(self, key):
        return self.w.objects[key]

    def _teams_of(self, persona):
        return TEAM.get(persona) if persona else None

    def _alive_account(self, key) -> bool:
        return key is None or not self._o(key).facts.get("deleted")

    # Reading ------------------------------------------------------------------------------
    def can_read(self, obj: Obj) -> bool:
        return getattr(self, f"read_{obj.kind}")(obj)

    def read_account(self, o):
        return not o.facts.get("deleted")

    def read_contact(self, o):
        return self._alive_account(o.facts.get("account"))

    def read_lead(self, o):
        if self.role in READ_ALL_DEALS_AND_LEADS:
            return True
        handoffs = [self._o(k) for k in o.facts.get("handoffs", [])]
        if self.role == "rep":
            return (
                o.owner == self.p
                or any(h.facts["to_user"] == self.p for h in handoffs)
                or any(
                    h.facts["status"] == "pending"
                    and h.facts["to_team"] == self.team
                    and h.facts["to_user"] is None
                    for h in handoffs
                )
            )
        if self.role == "manager":
            return self._teams_of(o.owner) == self.team or any(
                h.facts["to_team"] == self.team or self._teams_of(h.facts["to_user"]) == self.team
                for h in handoffs
            )
        return o.owner == self.p

    def read_opportunity(self, o):
        if not self._alive_account(o.facts["account"]):
            return False
        if self.role in READ_ALL_DEALS_AND_LEADS:
            return True
        if self.role == "manager":
            return self._teams_of(o.owner) == self.team
        return o.owner == self.p

    def read_activity(self, o):
        if not self._alive_account(o.facts.get("account")):
            return False
        if o.owner == self.p:
            return True
        if "opportunity" in o.facts and not self.read_opportunity(self._o(o.facts["opportunity"])):
            return False
        return not ("lead" in o.facts and not self.read_lead(self._o(o.facts["lead"])))

    def read_subscription(self, o):
        return self._alive_account(o.facts["account"])

    def read_handoff(self, o):
        return self.can_read(self._o(o.facts["subject"]))

    def read_checklist_item(self, o):
        return self.read_handoff(self._o(o.facts["handoff"]))

    def read_stage_change(self, o):
        return self.read_opportunity(self._o(o.facts["opportunity"]))

    def read_health(self, o):
        return self._alive_account(o.facts["account"])

    def read_quota(self, o):
        if self.role in ("executive", "admin"):
            return True
        if self.role == "manager":
            return self._teams_of(o.owner) == self.team
        return self.role == "rep" and o.owner == self.p

    def read_import(self, o):
        return self.role == "admin" or o.owner == self.p

    def read_notification(self, o):
        return o.owner == self.p

    def read_goal(self, o):
        return True

    def read_pipeline(self, o):
        return True

    def read_stage(self, o):
        return True

    # Changing -----------------------------------------------------------------------------
    def can_edit(self, obj: Obj) -> bool:
        return self.can_read(obj) and getattr(self, f"edit_{obj.kind}")(obj)

    def _own_or_team(self, owner, own_roles):
        if self.role == "admin":
            return True
        if self.role == "manager":
            return self._teams_of(owner) == self.team
        return self.role in own_roles and owner == self.p

    def edit_account(self, o):
        return self._own_or_team(o.owner, ("rep", "cs"))

    def edit_contact(self, o):
        if o.facts["account"] is not None:
            return self.edit_account(self._o(o.facts["account"]))
        return self._own_or_team(o.facts["creator"], ("rep", "cs"))

    def edit_activity(self, o):
        if self.role == "executive":
            return False
        return self._own_or_team(o.owner, ("rep", "marketer", "cs"))

    def edit_lead(self, o):
        if self.role in ("marketer", "admin", "manager"):
            return True  # managers: every lead they read (their team's and handed to it)
        return self.role == "rep" and o.owner == self.p

    def edit_opportunity(self, o):
        return self._own_or_team(o.owner, ("rep", "cs"))

    def edit_subscription(self, o):
        if self.role == "admin":
            return True
        return self.role == "cs" and self._o(o.facts["account"]).owner == self.p

    def edit_pipeline(self, o):
        return self.role == "admin"

    edit_stage = edit_pipeline

    def edit_quota(self, o):
        if self.role == "admin":
            return True
        return self.role == "manager" and self._teams_of(o.owner) == self.team

    def can_decide(self, o: Obj) -> bool:
        """Accept or reject a pending handoff."""
        f = o.facts
        if not self.can_read(o) or f["status"] != "pending":
            return False
        if self.role == "admin":
            return True
        mine = f["to_user"] == self.p or (f["to_team"] == self.team and f["to_user"] is None)
        if self.role == "rep":
            return f["handoff_kind"] == "lead_to_sales" and mine
        if self.role == "manager":
            return f["handoff_kind"] == "lead_to_sales" and (
                f["to_team"] == self.team or self._teams_of(f["to_user"]) == self.team
            )
        if self.role == "cs":
            return f["handoff_kind"] == "deal_to_cs" and mine
        return False

    def can_tick(self, item: Obj) -> bool:
        """Tick a step of a sales → CS handoff's checklist: its receivers."""
        h = self._o(item.facts["handoff"])
        if not self.can_read(h):
            return False
        return (
            self.role == "admin"
            or h.facts["to_user"] == self.p
            or (h.facts["to_team"] == self.team and self.role in ("cs", "manager"))
        )

    # Creating and exporting -----------------------------------------------------------------
    CREATORS = {
        "account": {"rep", "manager", "cs", "admin"},
        "contact": {"rep", "manager", "cs", "admin"},
        "activity": {"rep", "manager", "marketer", "cs", "admin"},
        "lead": {"rep", "manager", "marketer", "admin"},
        "opportunity": {"rep", "manager", "cs", "admin"},
        "handoff": {"marketer", "admin"},
        "goal": {"executive", "admin"},
        "import": {"marketer", "admin"},
        "quota_page": {"rep", "manager", "executive", "admin"},
        "quota_write": {"manager", "admin"},
        "settings": {"admin"},
    }

    def can_create(self, what: str) -> bool:
        return self.role in self.CREATORS[what]

    def can_export(self, what: str) -> bool:
        if self.role in ("manager", "executive", "admin"):
            return True
        return self.role == "marketer" and what == "lead"

    # KPI scopes -------------------------------------------------------------------------------
    def scope_visible(self, kind: str, who: str | None) -> bool:
        """kind: org, team (who: a team key) or owner (who: a persona key)."""
        if self.role in ("marketer", "cs", "executive", "admin"):
            return True
        if kind == "team":
            return who == self.team
        if kind == "owner":
            return who == self.p or (self.role == "manager" and TEAM.get(who) == self.team)
        return False
