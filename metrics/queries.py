"""Reading a KPI request (as-of date, period, calendar, scope) the same way for the `kpis`
command, the API and the dashboards, and the scope rules of roles.md."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.utils.translation import gettext as _

from revops.models import Organisation, Team, User
from revops.text import digits_to_latin

from .models import KpiSnapshot
from .periods import CALENDARS, GRAINS
from .services import Scope, org_today

PARAMETERS = ("as_of", "period", "calendar", "team", "owner")


class KpiQueryError(Exception):
    """Bad parameters: {parameter: message}."""

    def __init__(self, errors: dict):
        super().__init__("; ".join(f"{key}: {message}" for key, message in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class KpiQuery:
    as_of: date
    grain: str
    calendar: str
    scope: Scope


def parse_date(value: str) -> date:
    """An ISO date (Persian or Arabic digits allowed); ValueError otherwise."""
    text = digits_to_latin(str(value)).strip()
    if len(text) != 10:
        raise ValueError(value)
    return date.fromisoformat(text)


def kpi_query(params: dict, *, extra: tuple = ()) -> KpiQuery:
    """The request in `params` (absent or empty values take the defaults of kpis.md);
    KpiQueryError names every bad parameter, unknown names included."""
    errors = {}
    for name, value in params.items():
        if name not in PARAMETERS + extra:
            errors[name] = _("Unknown parameter.")
        elif "\x00" in value:  # Postgres cannot compare text with a NUL in it
            errors[name] = _("Null characters are not allowed.")
    organisation = Organisation.get()
    as_of = org_today(organisation)
    if params.get("as_of"):
        try:
            as_of = parse_date(params["as_of"])
        except ValueError:
            errors["as_of"] = _("Enter a date as YYYY-MM-DD.")
    grain = params.get("period") or "month"
    if grain not in GRAINS:
        errors["period"] = _("Choose one of: %(choices)s.") % {"choices": ", ".join(GRAINS)}
    calendar = params.get("calendar") or organisation.calendar
    if calendar not in CALENDARS:
        errors["calendar"] = _("Choose one of: %(choices)s.") % {"choices": ", ".join(CALENDARS)}
    scope = Scope.org()
    # A name already refused (a NUL character) is not looked up.
    team_name = None if "team" in errors else params.get("team")
    email = None if "owner" in errors else params.get("owner")
    if team_name and email:
        errors["team"] = _("Ask for a team or an owner, not both.")
    elif team_name:
        team = Team.objects.filter(name=team_name).first()
        if team is None:
            errors["team"] = _("No team is called %(name)s.") % {"name": team_name}
        else:
            scope = Scope.of_team(team)
    elif email:
        user = User.objects.filter(email__iexact=email).first()
        if user is None:
            errors["owner"] = _("No user has the e-mail %(email)s.") % {"email": email}
        else:
            scope = Scope.of_owner(user)
    if errors:
        raise KpiQueryError(errors)
    return KpiQuery(as_of, grain, calendar, scope)


EVERY_SCOPE = (User.Role.MARKETER, User.Role.CS, User.Role.EXECUTIVE, User.Role.ADMIN)


def scope_visible(user: User, scope: Scope) -> bool:
    """roles.md: reps see their own numbers and their team's total; managers their team's
    total and each member's; marketers, CS, executives and admins every scope."""
    if not user.is_authenticated or not user.is_active:
        return False
    if user.role in EVERY_SCOPE:
        return True
    if scope.kind == KpiSnapshot.ScopeKind.TEAM:
        return user.team_id is not None and scope.id == user.team_id
    if scope.kind == KpiSnapshot.ScopeKind.OWNER:
        if scope.id == user.pk:
            return True
        return (
            user.role == User.Role.MANAGER
            and user.team_id is not None
            and User.objects.filter(pk=scope.id, team_id=user.team_id).exists()
        )
    return False
