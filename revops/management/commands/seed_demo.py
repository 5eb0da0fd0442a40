"""Build a believable demo organisation. Later sections add their records here."""

import random
import time
from datetime import date, datetime, timedelta
from decimal import Decimal
from io import StringIO

from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from crm.models import Account, Activity, ChurnReason, Contact, Persona, Subscription
from crm.services import account_health_compute
from metrics.models import Quota
from metrics.periods import periods_of_year
from pipeline.models import MEDDIC_FIELDS, Handoff, Lead, Opportunity, Pipeline, StageChange
from pipeline.services import (
    add_business_days,
    handoff_accept,
    handoff_reject,
    opportunity_create,
    opportunity_move,
)
from revops.demo_bulk import SCALES as BULK_SCALES
from revops.demo_bulk import generate
from revops.models import FxRate, Organisation, Team, User

DEMO_PASSWORD = "demo"  # noqa: S105 - printed on screen on purpose: these are demo logins
DEMO_DOMAIN = "daramad.example"

TEAMS = [
    ("Marketing", Team.Kind.MARKETING),
    ("Sales Tehran", Team.Kind.SALES),
    ("Sales Europe", Team.Kind.SALES),
    ("Customer Success", Team.Kind.CS),
    ("Revenue Operations", Team.Kind.REVOPS),
]

# The named logins people use to try each role.
LOGINS = [
    ("admin", "Admin Ahmadi", User.Role.ADMIN, "Revenue Operations", "en"),
    ("exec", "Shirin Karimi", User.Role.EXECUTIVE, "Revenue Operations", "en"),
    ("manager", "Reza Tehrani", User.Role.MANAGER, "Sales Tehran", "en"),
    ("rep", "Sara Rahimi", User.Role.REP, "Sales Tehran", "en"),
    ("rep.fa", "نگار محمدی", User.Role.REP, "Sales Tehran", "fa"),
    ("manager.eu", "Anna Berg", User.Role.MANAGER, "Sales Europe", "en"),
    ("rep.eu", "Lukas Weber", User.Role.REP, "Sales Europe", "en"),
    ("marketer", "Mina Jafari", User.Role.MARKETER, "Marketing", "en"),
    ("cs", "Kaveh Moradi", User.Role.CS, "Customer Success", "en"),
]

PERSIAN_FIRST = ["علی", "مریم", "حسین", "زهرا", "امیر", "فاطمه", "مهدی", "نرگس", "پرهام", "یاسمن"]
PERSIAN_LAST = ["حسینی", "رضایی", "کریمی", "موسوی", "احمدی", "نوری", "صادقی", "اکبری"]
LATIN_FIRST = ["Daniel", "Emma", "Jonas", "Lea", "Marco", "Nina", "Oliver", "Sofia", "Tom", "Ida"]
LATIN_LAST = ["Schmidt", "Rossi", "Novak", "Larsen", "Dubois", "Kowalski", "Meyer", "Costa"]

SCALES = {
    "small": {
        "extra_users": 11,
        "accounts": 200,
        "contacts": 600,
        "leads": 2000,
        "activities": 5000,
        "opportunities": 1000,
    }
}

INDUSTRIES = ["Software", "Retail", "Banking", "Logistics", "Healthcare", "Education", "Energy"]
COUNTRIES = ["Iran", "Germany", "Türkiye", "United Arab Emirates", "Netherlands", "Sweden"]
PERSIAN_COMPANY = ["پارس", "آریا", "کیان", "سپهر", "نوین", "البرز", "مهر", "آفاق", "ایده", "رایان"]
PERSIAN_SUFFIX = ["پرداز", "داده", "سازان", "تجارت", "گستر", "سیستم"]
LATIN_COMPANY = ["Nordic", "Atlas", "Blue", "Vertex", "Orbit", "Summit", "Lumen", "Apex", "Delta"]
LATIN_SUFFIX = ["Labs", "Systems", "Retail", "Logistics", "Health", "Energy", "Bank"]
TITLES = ["CEO", "CTO", "Head of Sales", "Procurement Manager", "Operations Lead", "CFO"]
PERSONAS = ["Economic buyer", "Champion", "Technical evaluator", "End user"]
SOURCES = ["webinar", "website", "referral", "event", "paid_search", "linkedin"]
CAMPAIGNS = ["nowruz-1405", "spring-webinar", "crm-guide", "partner-week", ""]
SUBJECTS = {
    "call": ["Discovery call", "Pricing call", "Check-in call"],
    "email": ["Sent proposal", "Follow-up e-mail", "Shared case study"],
    "meeting": ["Demo meeting", "Kickoff meeting", "Quarterly review"],
    "note": ["Budget approved next quarter", "Prefers Persian documentation"],
    "task": ["Send quote", "Book the demo", "Prepare contract"],
}


class Command(BaseCommand):
    help = "Create a demo organisation: teams, a user of every role (password `demo`), data."

    def add_arguments(self, parser):
        parser.add_argument(
            "--scale",
            choices=["small", *BULK_SCALES],
            default="small",
            help="small: the demo of `make run`; medium and large: performance.md's scales, "
            "generated in SQL (large: 1M deals, 1M leads, 2M activities)",
        )
        parser.add_argument("--seed", type=int, default=1405, help="random seed (deterministic)")
        parser.add_argument(
            "--no-history",
            action="store_true",
            help="skip the backfill of a year of KPI snapshots",
        )
        parser.add_argument(
            "--locale",
            choices=["en", "fa"],
            default="en",
            help="fa: a Persian organisation (Rial, Jalali calendar, Persian names and users)",
        )
        parser.add_argument(
            "--if-empty", action="store_true", help="do nothing when any user exists already"
        )
        parser.add_argument(
            "--list", action="store_true", help="only print the demo logins and exit"
        )

    def handle(self, *args, scale, seed, if_empty, list, locale="en", no_history=False, **options):
        if list:
            self.print_logins()
            return
        if if_empty and User.objects.exists():
            self.stderr.write("users exist already; the demo data is not loaded again")
            return
        rng = random.Random(seed)
        # The share of Persian names among the generated people and companies.
        self.persian_share = 0.9 if locale == "fa" else 0.5
        if scale in BULK_SCALES:
            self.seed_bulk(rng, scale, seed, no_history)
            return
        with transaction.atomic():
            self.seed_people(rng, SCALES[scale])
            if Account.objects.filter(external_id__startswith="demo-").exists():
                self.stderr.write("demo records exist already; people refreshed only")
            else:
                self.seed_records(rng, SCALES[scale])
                if locale == "fa":
                    self.make_persian()
        if not no_history:
            self.backfill_snapshots()
        self.print_logins()

    def seed_bulk(self, rng, scale: str, seed: int, no_history: bool) -> None:
        """performance.md's medium or large organisation, generated in SQL (revops.demo_bulk);
        today's KPI snapshots are computed at the end (a year of history would take a pass per
        day)."""
        from metrics.services import kpi_recompute_day, org_today

        if Account.objects.filter(external_id__startswith="big-acc-").exists():
            self.stderr.write(f"the {scale} records exist already; nothing generated")
            return
        started = time.monotonic()
        with transaction.atomic():
            self.seed_people(rng, SCALES["small"])
        generate(
            scale,
            seed=seed,
            today=org_today(),
            base=Organisation.get().base_currency,
            stderr=self.stderr,
        )
        self.stderr.write(f"{scale} generated in {time.monotonic() - started:.0f} s")
        if not no_history:
            result = kpi_recompute_day()
            self.stderr.write(f"today's KPI snapshots in {result['seconds']} s")

    # One US dollar in Rial, for the Persian demo's conversion of the generated amounts.
    RIAL_PER_DOLLAR = Decimal("1000000")

    def make_persian(self) -> None:
        """The organisation counts in Rial on the Jalali calendar and its people read Persian:
        every generated dollar amount becomes Rial (whole rials), the euro's rate is restated
        against the Rial, and a dollar rate is added for deals still priced in dollars."""
        from django.db.models import F
        from django.db.models.functions import Round

        from crm.models import Subscription
        from metrics.models import Quota
        from pipeline.models import Opportunity

        rate = self.RIAL_PER_DOLLAR
        org = Organisation.get()
        org.name, org.base_currency, org.calendar = "درآمد · نسخهٔ نمایشی", "IRR", "jalali"
        org.save()
        Opportunity.objects.filter(currency="USD").update(
            amount=Round(F("amount") * rate), currency="IRR"
        )
        Opportunity.objects.filter(currency="IRR", one_time_amount__isnull=False).update(
            one_time_amount=Round(F("one_time_amount") * rate)
        )
        Subscription.objects.filter(currency="USD").update(
            mrr=Round(F("mrr") * rate), currency="IRR"
        )
        Quota.objects.update(amount=Round(F("amount") * rate))
        FxRate.objects.filter(currency="EUR").update(rate_to_base=F("rate_to_base") * rate)
        FxRate.objects.get_or_create(
            currency="USD", valid_from=date(2020, 1, 1), defaults={"rate_to_base": rate}
        )
        User.objects.filter(email__endswith=f"@{DEMO_DOMAIN}").update(language="fa")

    def backfill_snapshots(self) -> None:
        """KPI history for the dashboards: each month's end over the last year and every one
        of the last seven days (kpi_backfill)."""
        from metrics.services import org_today

        today = org_today()
        started = time.monotonic()
        call_command(
            "kpi_backfill",
            "--from",
            (today - timedelta(days=366)).isoformat(),
            "--to",
            (today - timedelta(days=8)).isoformat(),
            "--every",
            "period-end",
            stderr=StringIO(),
        )
        call_command(
            "kpi_backfill",
            "--from",
            (today - timedelta(days=7)).isoformat(),
            "--to",
            today.isoformat(),
            stderr=StringIO(),
        )
        self.stderr.write(f"KPI snapshots backfilled in {time.monotonic() - started:.1f} s")

    def seed_people(self, rng: random.Random, scale: dict) -> None:
        org = Organisation.get()
        org.name = "Daramad Demo"
        org.save(update_fields=["name"])
        teams = {
            name: Team.objects.update_or_create(name=name, defaults={"kind": kind})[0]
            for name, kind in TEAMS
        }
        for local, full_name, role, team, language in LOGINS:
            self.user_upsert(f"{local}@{DEMO_DOMAIN}", full_name, role, teams[team], language)
        sales_teams = [teams["Sales Tehran"], teams["Sales Europe"]]
        for number in range(1, scale["extra_users"] + 1):
            persian = rng.random() < self.persian_share
            first = rng.choice(PERSIAN_FIRST if persian else LATIN_FIRST)
            last = rng.choice(PERSIAN_LAST if persian else LATIN_LAST)
            role = rng.choices(
                [User.Role.REP, User.Role.MARKETER, User.Role.CS], weights=[6, 2, 2]
            )[0]
            team = {
                User.Role.REP: rng.choice(sales_teams),
                User.Role.MARKETER: teams["Marketing"],
                User.Role.CS: teams["Customer Success"],
            }[role]
            self.user_upsert(
                f"user{number:03d}@{DEMO_DOMAIN}",
                f"{first} {last}",
                role,
                team,
                "fa" if persian else "en",
            )

    def seed_records(self, rng: random.Random, scale: dict) -> None:
        """Accounts with contacts, leads in every status with their handoffs, activities."""
        today = timezone.localdate()
        users = list(User.objects.filter(email__endswith=DEMO_DOMAIN).select_related("team"))
        sellers = [u for u in users if u.role in (User.Role.REP, User.Role.CS)]
        reps = [u for u in users if u.role == User.Role.REP]
        marketers = [u for u in users if u.role == User.Role.MARKETER]
        personas = [Persona.objects.get_or_create(name=name)[0] for name in PERSONAS]

        def company(i):
            if rng.random() < self.persian_share:
                return f"{rng.choice(PERSIAN_COMPANY)} {rng.choice(PERSIAN_SUFFIX)}", f"co{i}.ir"
            return f"{rng.choice(LATIN_COMPANY)} {rng.choice(LATIN_SUFFIX)}", f"co{i}.com"

        def person():
            if rng.random() < self.persian_share:
                return rng.choice(PERSIAN_FIRST), rng.choice(PERSIAN_LAST)
            return rng.choice(LATIN_FIRST), rng.choice(LATIN_LAST)

        accounts = []
        for i in range(scale["accounts"]):
            name, domain = company(i)
            accounts.append(
                Account(
                    external_id=f"demo-acc-{i:05d}",
                    name=name,
                    domain=domain,
                    industry=rng.choice(INDUSTRIES),
                    country=rng.choice(COUNTRIES),
                    owner=rng.choice(sellers),
                    created_on=today - timedelta(days=rng.randint(30, 900)),
                )
            )
        # A few known duplicates, as an import from an older CRM would bring.
        for i in range(3):
            twin = accounts[i]
            accounts.append(
                Account(
                    external_id=f"demo-acc-dup{i}",
                    name=f"{twin.name} (old)",
                    domain=twin.domain,
                    industry=twin.industry,
                    country=twin.country,
                    owner=twin.owner,
                    created_on=twin.created_on,
                )
            )
        Account.objects.bulk_create(accounts, batch_size=1000)

        contacts = []
        for i in range(scale["contacts"]):
            account = accounts[int(rng.paretovariate(1.2)) % len(accounts)]
            first, last = person()
            contacts.append(
                Contact(
                    external_id=f"demo-con-{i:05d}",
                    account=account,
                    first_name=first,
                    last_name=last,
                    email=f"contact{i}@{account.domain}",
                    phone=f"+98 912 {rng.randint(100, 999)} {rng.randint(1000, 9999)}",
                    title=rng.choice(TITLES),
                    persona=rng.choice(personas),
                    created_on=account.created_on + timedelta(days=rng.randint(0, 20)),
                )
            )
        Contact.objects.bulk_create(contacts, batch_size=1000)

        statuses = [s for s, _ in Lead.Status.choices]
        leads, handoffs = [], []
        sales_teams = list(Team.objects.filter(kind=Team.Kind.SALES))
        for i in range(scale["leads"]):
            first, last = person()
            status = (
                statuses[i % len(statuses)]
                if i < 60
                else rng.choices(statuses, weights=[30, 25, 10, 10, 15, 10])[0]
            )
            created = today - timedelta(days=rng.randint(0, 400))
            lead = Lead(
                external_id=f"demo-lead-{i:05d}",
                first_name=first,
                last_name=last,
                email=f"lead{i}@prospect{i % 500}.example",
                company=company(i)[0],
                source=rng.choice(SOURCES),
                utm_source=rng.choice(["google", "linkedin", ""]),
                utm_medium=rng.choice(["cpc", "email", "social", ""]),
                utm_campaign=rng.choice(CAMPAIGNS),
                score=rng.randint(0, 100),
                status=status,
                owner=rng.choice(marketers),
                created_on=created,
            )
            if status in ("mql", "sql", "converted"):
                lead.handed_off_on = min(today, created + timedelta(days=rng.randint(0, 10)))
            if status in ("sql", "converted"):
                lead.accepted_on = min(
                    today, lead.handed_off_on + timedelta(days=rng.randint(0, 3))
                )
                lead.owner = rng.choice(reps)
            if status == "converted":
                lead.converted_on = min(
                    today, lead.accepted_on + timedelta(days=rng.randint(1, 30))
                )
                lead.account = rng.choice(accounts)
            if status == "disqualified":
                lead.disqualified_reason = rng.choice(["No budget", "Student", "Competitor"])
            leads.append(lead)
        Lead.objects.bulk_create(leads, batch_size=1000)
        organisation = Organisation.get()
        now = timezone.now()
        for lead in leads:
            if lead.handed_off_on is None and not (lead.status == "working" and rng.random() < 0.2):
                continue
            team = rng.choice(sales_teams)
            at = timezone.make_aware(
                datetime.combine(lead.handed_off_on or lead.created_on, datetime.min.time())
            ) + timedelta(hours=rng.randint(8, 17))
            at = min(at, now)
            handoff = Handoff(
                kind=Handoff.Kind.LEAD_TO_SALES,
                lead=lead,
                from_user=lead.owner if lead.status == "mql" else rng.choice(marketers),
                to_team=team,
                created_at=at,
                sla_due_at=add_business_days(
                    at, organisation.handoff_sla_business_days, organisation
                ),
            )
            if lead.status in ("sql", "converted"):
                handoff.status = Handoff.Status.ACCEPTED
                handoff.decided_by = handoff.to_user = lead.owner
                handoff.decided_at = at + timedelta(hours=rng.randint(1, 60))
            elif lead.status == "working":
                handoff.status = Handoff.Status.REJECTED
                handoff.decided_by = rng.choice([u for u in reps if u.team_id == team.pk] or reps)
                handoff.decided_at = at + timedelta(hours=rng.randint(1, 30))
                handoff.reason = rng.choice(["No budget this year", "Wrong contact person"])
            handoffs.append(handoff)
        Handoff.objects.bulk_create(handoffs, batch_size=1000)

        activities = []
        kinds = list(SUBJECTS)
        for i in range(scale["activities"]):
            kind = rng.choices(kinds, weights=[30, 30, 15, 10, 15])[0]
            contact = rng.choice(contacts) if rng.random() < 0.6 else None
            account = contact.account if contact else rng.choice(accounts)
            occurred = today - timedelta(days=int(rng.expovariate(1 / 90)) % 700)
            activities.append(
                Activity(
                    external_id=f"demo-act-{i:05d}",
                    kind=kind,
                    subject=rng.choice(SUBJECTS[kind]),
                    account=account,
                    contact=contact,
                    owner=account.owner,
                    occurred_on=occurred,
                    due_on=occurred + timedelta(days=rng.randint(1, 14))
                    if kind == "task"
                    else None,
                    done=kind == "task" and rng.random() < 0.6,
                )
            )
        Activity.objects.bulk_create(activities, batch_size=2000)
        deals, changes = self.seed_deals(rng, scale, accounts, contacts, reps, users, today)
        self.seed_quotas(reps, today)
        subscriptions = self.seed_subscriptions(rng, accounts, users, today)
        cs_handoffs = self.seed_cs_handoffs(rng, users, today)
        self.stderr.write(
            f"demo records: {len(accounts)} accounts, {len(contacts)} contacts, {len(leads)} "
            f"leads, {len(handoffs)} handoffs, {len(activities)} activities, {deals} deals, "
            f"{changes} stage changes, {subscriptions} subscriptions, {cs_handoffs} won-deal "
            f"handoffs"
        )

    def seed_subscriptions(self, rng, accounts, users, today):
        """Subscriptions with upgrades, downgrades, churn and reactivation, for a third of
        the accounts (owned by CS), from confirmed history."""
        from revops.dates import add_months

        cs_users = [u for u in users if u.role == User.Role.CS]
        reasons = [
            ChurnReason.objects.get_or_create(name=name)[0]
            for name in ("Budget cut", "Switched to a competitor", "Company closed")
        ]
        subs = []
        for index, account in enumerate(accounts[: len(accounts) // 3]):
            account.owner = rng.choice(cs_users)
            start = today - timedelta(days=rng.randint(120, 800))
            mrr = Decimal(rng.choice([150, 300, 500, 900, 2500, 6000]))
            story = rng.choices(
                ["steady", "upgrade", "downgrade", "churn", "reactivate"], weights=[4, 2, 1, 1, 1]
            )[0]
            ref = f"demo-sub-{index:05d}"
            first = Subscription(
                external_id=f"{ref}-a",
                account=account,
                product="Seats",
                mrr=mrr,
                currency="USD",
                start_on=start,
                end_on=add_months(start, 24) if rng.random() < 0.5 else None,
            )
            subs.append(first)
            if story in ("upgrade", "downgrade"):
                change = start + timedelta(days=rng.randint(40, 100))
                first.end_on = change
                factor = Decimal("1.5") if story == "upgrade" else Decimal("0.6")
                subs.append(
                    Subscription(
                        external_id=f"{ref}-b",
                        account=account,
                        product="Seats",
                        mrr=(mrr * factor).quantize(Decimal("0.01")),
                        currency="USD",
                        start_on=change,
                        replaces=first,
                    )
                )
            elif story in ("churn", "reactivate"):
                first.end_on = start + timedelta(days=rng.randint(60, 110))
                first.churn_reason = rng.choice(reasons)
                first.churn_note = "Told us at the quarterly review"
                if story == "reactivate":
                    again = first.end_on + timedelta(days=rng.randint(20, 60))
                    subs.append(
                        Subscription(
                            external_id=f"{ref}-c",
                            account=account,
                            product="Seats",
                            mrr=mrr,
                            currency="USD",
                            start_on=min(again, today),
                        )
                    )
        Account.objects.bulk_update(accounts[: len(accounts) // 3], ["owner"], batch_size=500)
        # `replaces` points at rows of the same batch: save the first plans first.
        firsts = [s for s in subs if s.replaces is None]
        Subscription.objects.bulk_create(firsts, batch_size=1000)
        for sub in subs:
            if sub.replaces is not None:
                sub.replaces_id = sub.replaces.pk
        Subscription.objects.bulk_create(
            [s for s in subs if s.replaces is not None], batch_size=1000
        )
        for account in accounts[: len(accounts) // 3]:
            account_health_compute(account, today)
        return len(subs)

    def seed_cs_handoffs(self, rng, users, today):
        """A few deals won lately go through the real service: handoffs waiting, accepted
        and rejected, with their checklists and draft subscriptions."""
        rep = next(u for u in users if u.email == f"rep@{DEMO_DOMAIN}")
        cs = next(u for u in users if u.email == f"cs@{DEMO_DOMAIN}")
        stages = {s.name: s for s in Pipeline.default().stages.all()}
        made = 0
        for index, state in enumerate(["pending", "pending", "pending", "accepted", "rejected"]):
            account = Account.objects.create(
                external_id=f"demo-acc-won{index}",
                name=f"Won customer {index + 1}",
                domain=f"won{index}.example",
                owner=rep,
                created_on=today - timedelta(days=60),
            )
            deal = opportunity_create(
                opportunity=Opportunity(
                    external_id=f"demo-opp-won{index}",
                    account=account,
                    owner=rep,
                    name=f"Won customer {index + 1} · CRM",
                    stage=stages["Negotiation"],
                    amount=Decimal(rng.choice([6000, 12000, 24000])),
                    currency="USD",
                    contract_months=12,
                    created_on=today - timedelta(days=50),
                ),
                by=rep,
            )
            deal = opportunity_move(
                opportunity_id=deal.pk,
                stage=stages["Closed won"],
                by=rep,
                expected_version=deal.version,
                closed_on=today - timedelta(days=index),
            )
            handoff = Handoff.objects.get(opportunity=deal)
            if state == "accepted":
                handoff_accept(handoff=handoff, by=cs)
            elif state == "rejected":
                handoff_reject(handoff=handoff, by=cs, reason="The contract is not signed yet")
            made += 1
        return made

    def seed_deals(self, rng, scale, accounts, contacts, reps, users, today):
        """Deals in every stage with believable stage histories: skewed amounts, a few big
        accounts, more deals closing at quarter ends."""
        pipeline = Pipeline.default()
        stages = list(pipeline.stages.order_by("position"))
        open_stages = [s for s in stages if s.outcome == "open"]
        won = next(s for s in stages if s.outcome == "won")
        lost = next(s for s in stages if s.outcome == "lost")
        FxRate.objects.get_or_create(
            currency="EUR",
            valid_from=today - timedelta(days=900),
            defaults={"rate_to_base": Decimal("1.08")},
        )
        FxRate.objects.get_or_create(
            currency="EUR",
            valid_from=today - timedelta(days=200),
            defaults={"rate_to_base": Decimal("1.12")},
        )
        sellers = reps + [u for u in users if u.role == User.Role.CS]
        contacts_by_account = {}
        for contact in contacts:
            contacts_by_account.setdefault(contact.account_id, []).append(contact)
        deals, histories = [], []
        for i in range(scale["opportunities"]):
            account = accounts[
                min(int(rng.paretovariate(1.1)) - 1, len(accounts) - 1)
                if rng.random() < 0.3
                else rng.randrange(len(accounts))
            ]
            created = today - timedelta(days=rng.randint(0, 540))
            roll = rng.random()
            path = open_stages[: rng.randint(1, len(open_stages))]
            final = path[-1] if roll < 0.45 else (won if roll < 0.75 else lost)
            amount = Decimal(int(rng.lognormvariate(9.3, 1.0))).quantize(Decimal(1))
            owner = account.owner if account.owner in sellers else rng.choice(reps)
            kind = rng.choices(["new_business", "expansion", "renewal"], weights=[6, 3, 1])[0]
            if owner.role == User.Role.CS and kind == "new_business":
                owner = rng.choice(reps)
            day, steps = created, []
            for stage in path:
                steps.append((stage, day))
                day = day + timedelta(days=rng.randint(3, 30))
            closed_on = None
            if final.is_closed:
                closed_on = min(today, day)
                # Quarter ends pull deals in: seasonality.
                steps.append((final, closed_on))
            deal = Opportunity(
                external_id=f"demo-opp-{i:05d}",
                account=account,
                name=f"{account.name} · {rng.choice(['CRM', 'Analytics', 'Support', 'Seats'])}",
                owner=owner,
                pipeline=pipeline,
                stage=final,
                status=final.outcome,
                kind=kind,
                amount=amount,
                one_time_amount=(amount * Decimal("0.1")).quantize(Decimal(1))
                if rng.random() < 0.3
                else None,
                currency="EUR" if rng.random() < 0.15 else "USD",
                contract_months=rng.choice([12, 12, 24, 36, None]),
                expected_close_on=day if not final.is_closed else closed_on,
                forecast_category=rng.choice(["pipeline", "best_case", "commit", ""]),
                created_on=created,
                closed_on=closed_on,
                lost_reason=rng.choice(["Price", "Went with a competitor", "No decision"])
                if final.outcome == "lost"
                else "",
                primary_contact=rng.choice(contacts_by_account.get(account.pk, [None])),
                stage_entered_on=steps[-1][1],
                **{name: rng.choice(["", "", "Known"]) for name in MEDDIC_FIELDS},
            )
            deals.append(deal)
            histories.append(steps)
        Opportunity.objects.bulk_create(deals, batch_size=1000)
        changes = []
        for deal, steps in zip(deals, histories, strict=True):
            previous = None
            for stage, day in steps:
                changes.append(
                    StageChange(
                        opportunity=deal,
                        from_stage=previous,
                        to_stage=stage,
                        entered_on=day,
                        changed_by=deal.owner,
                    )
                )
                previous = stage
        StageChange.objects.bulk_create(changes, batch_size=2000)
        return len(deals), len(changes)

    def seed_quotas(self, reps, today):
        organisation = Organisation.get()
        for first, last in periods_of_year("quarter", today, organisation.calendar):
            for rep in reps:
                Quota.objects.get_or_create(
                    user=rep,
                    period_start=first,
                    period_end=last,
                    defaults={"amount": Decimal(60000)},
                )

    def user_upsert(self, email, full_name, role, team, language) -> User:
        user, created = User.objects.update_or_create(
            email=email,
            defaults={
                "full_name": full_name,
                "role": role,
                "team": team,
                "language": language,
                "is_staff": role == User.Role.ADMIN,
                "is_superuser": role == User.Role.ADMIN,
            },
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
        return user

    def print_logins(self) -> None:
        emails = [f"{local}@{DEMO_DOMAIN}" for local, *_ in LOGINS]
        users = {u.email: u for u in User.objects.filter(email__in=emails).select_related("team")}
        if not users:
            self.stdout.write("No demo users yet: run `python manage.py seed_demo`.")
            return
        self.stdout.write(f"Demo logins (password: {DEMO_PASSWORD}):")
        for email in emails:
            if user := users.get(email):
                team = user.team.name if user.team else "-"
                self.stdout.write(
                    f"  {user.get_role_display():<26} {email:<28} {user.full_name} ({team})"
                )
