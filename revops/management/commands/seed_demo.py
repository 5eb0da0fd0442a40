"""Build a believable demo organisation. Later sections add their records here."""

import random

from django.core.management.base import BaseCommand
from django.db import transaction

from revops.models import Organisation, Team, User

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

SCALES = {"small": {"extra_users": 11}}


class Command(BaseCommand):
    help = "Create a demo organisation: teams, a user of every role (password `demo`), data."

    def add_arguments(self, parser):
        parser.add_argument("--scale", choices=sorted(SCALES), default="small")
        parser.add_argument("--seed", type=int, default=1405, help="random seed (deterministic)")
        parser.add_argument(
            "--if-empty", action="store_true", help="do nothing when any user exists already"
        )
        parser.add_argument(
            "--list", action="store_true", help="only print the demo logins and exit"
        )

    def handle(self, *args, scale, seed, if_empty, list, **options):
        if list:
            self.print_logins()
            return
        if if_empty and User.objects.exists():
            self.stderr.write("users exist already; the demo data is not loaded again")
            return
        rng = random.Random(seed)
        with transaction.atomic():
            self.seed_people(rng, SCALES[scale])
        self.print_logins()

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
            persian = rng.random() < 0.5
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
