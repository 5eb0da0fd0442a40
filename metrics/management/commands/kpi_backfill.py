from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from metrics.periods import CALENDARS, period_start
from metrics.queries import parse_date
from metrics.services import kpi_recompute_day, org_today


class Command(BaseCommand):
    help = (
        "Recompute every scope's KPI snapshots for each day of a range (history imported "
        "with the dataset, or after a correction). Each day commits on its own; a rerun "
        "overwrites and never duplicates."
    )

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="since", required=True, help="YYYY-MM-DD")
        parser.add_argument("--to", dest="until", help="YYYY-MM-DD; today by default")
        parser.add_argument(
            "--every",
            choices=["day", "period-end"],
            default="day",
            help="every day, or only each month's first and last days (Gregorian and Jalali, "
            "for trend lines and frozen forecasts) and --to",
        )

    def handle(self, since, until, every, **options):
        try:
            first = parse_date(since)
            last = parse_date(until) if until else org_today()
        except ValueError as error:
            raise CommandError(f"not a date: {error}", returncode=2) from None
        if last < first:
            raise CommandError("--to is before --from", returncode=2)
        days = backfill_days(first, last, every)
        for number, day in enumerate(days, 1):
            result = kpi_recompute_day(day)
            self.stderr.write(
                f"{day}: {result['snapshots']} snapshots in {result['seconds']} s "
                f"({number}/{len(days)})"
            )


def backfill_days(first, last, every):
    """The days from `first` to `last`; with "period-end", each Gregorian or Jalali month's
    first day (its forecast is frozen then) and last day (what a trend line reads) among
    them, and `last`."""
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    if every == "period-end":
        days = [
            day
            for day in days
            if day == last
            or any(period_start("month", day, calendar) == day for calendar in CALENDARS)
            or any(
                period_start("month", day + timedelta(days=1), calendar) == day + timedelta(days=1)
                for calendar in CALENDARS
            )
        ]
    return days
