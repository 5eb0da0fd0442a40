import json

from django.core.management.base import BaseCommand, CommandError

from metrics.kpis import KPIS
from metrics.queries import GRAINS, KpiQueryError, kpi_query
from metrics.services import kpi_report


class Command(BaseCommand):
    help = "Every KPI of shared/spec/kpis.md for one as-of date, period and scope."
    # A question, not an operation: the system checks (which import every view to check
    # the URLs) would take a third of its time. `migrate` and the servers run them.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--as-of", help="YYYY-MM-DD; today in the organisation by default")
        parser.add_argument("--period", choices=GRAINS, default="month")
        parser.add_argument("--calendar", choices=["gregorian", "jalali"])
        parser.add_argument("--team", help="a team's name")
        parser.add_argument("--owner", help="a user's e-mail")
        parser.add_argument("--format", choices=["json", "table"], default="table")

    def handle(self, *args, **options):
        params = {
            key: options[key]
            for key in ("as_of", "period", "calendar", "team", "owner")
            if options[key] is not None
        }
        empty = [key for key, value in params.items() if not value.strip()]
        if empty:
            raise CommandError(
                "; ".join(f"--{key.replace('_', '-')}: empty value" for key in empty),
                returncode=2,
            )
        try:
            query = kpi_query(params)
        except KpiQueryError as error:
            raise CommandError(
                "; ".join(f"--{k.replace('_', '-')}: {m}" for k, m in error.errors.items()),
                returncode=2,
            ) from None
        report = kpi_report(query.as_of, query.grain, query.calendar, query.scope)
        if options["format"] == "json":
            self.stdout.write(json.dumps(report, ensure_ascii=False))
            return
        self.stdout.write(self.table(report))

    def table(self, report: dict) -> str:
        period = report["period"]
        scope = report["scope"]
        who = scope.get("name") or scope.get("email") or "organisation"
        lines = [
            f"KPIs as of {report['as_of']} — {period['grain']} ({period['calendar']}) "
            f"{period['start']} … {period['end']} (last day {period['last_day']})",
            f"scope: {scope['kind']} {who if scope['kind'] != 'org' else ''}".rstrip()
            + f"   currency: {report['currency']}",
            "",
        ]
        width = max(len(key) for key in report["kpis"])
        for key, value in report["kpis"].items():
            shown = "—" if value is None else str(value)
            unit = KPIS[key].unit
            lines.append(f"{key:<{width}}  {shown:>22}  {unit}")
        return "\n".join(lines)
