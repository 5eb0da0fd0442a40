"""Who may create what, and to whom a record may be assigned (shared/spec/roles.md).

Reading and editing existing records is decided by each model's `visible_to` and
`editable_by` QuerySet methods; this module holds the rules that are about people.
"""

from .models import User

Role = User.Role

# Who may create records of each kind at all.
CREATORS = {
    "account": {Role.REP, Role.MANAGER, Role.CS, Role.ADMIN},
    "contact": {Role.REP, Role.MANAGER, Role.CS, Role.ADMIN},
    "activity": {Role.REP, Role.MANAGER, Role.MARKETER, Role.CS, Role.ADMIN},
    "lead": {Role.MARKETER, Role.ADMIN, Role.REP, Role.MANAGER},
    "handoff": {Role.MARKETER, Role.ADMIN},
    "opportunity": {Role.REP, Role.MANAGER, Role.CS, Role.ADMIN},
    "quota": {Role.MANAGER, Role.ADMIN},
    "subscription": {Role.CS, Role.ADMIN},
}


def can_create(user: User, kind: str) -> bool:
    return user.is_authenticated and user.role in CREATORS[kind]


def assignable_owners(user: User, kind: str):
    """The users `user` may name as the owner of a record of this kind."""
    active = User.objects.filter(is_active=True).select_related("team")
    if not user.is_authenticated:
        return active.none()
    if user.role == Role.ADMIN or (kind == "lead" and user.role == Role.MARKETER):
        return active
    if user.role == Role.MANAGER and user.team_id:
        return active.filter(team_id=user.team_id)
    return active.filter(pk=user.pk)
