"""The access-control sweep (shared/spec/roles.md): every URL pattern the resolver knows,
for every persona, against every record of a world (tests/integration/sweep_world.py).

- The patterns are discovered from `get_resolver()`; each must have a rule in `RULES`
  (which record its URL names, what roles.md allows), so a new view without rules fails
  `test_every_url_pattern_has_a_rule`.
- A record the persona may not see answers 404 (never 403) at every door; one it may see
  but not change answers the app's refusal, 403; lists, search, exports, API lists and
  drill-downs hold exactly the records the persona may see; and no page that answers 200
  shows the marker of a record the persona may not see.
- KPI scopes: a forbidden scope answers 404, an unknown one 400.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from django.contrib import admin
from django.db import transaction
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from metrics.dashboards import DASHBOARDS
from tests.integration.sweep_world import PERSONAS, ROLE, TEAM, Rules, World, build

pytestmark = pytest.mark.django_db

# --- Discovery ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pattern:
    route: str
    name: str
    kwargs: tuple[str, ...]
    callback: Callable

    @property
    def is_format(self) -> bool:
        return "format" in self.kwargs

    @property
    def is_admin(self) -> bool:
        return self.route.startswith("admin/")


def discover() -> list[Pattern]:
    found = []

    def walk(resolver, prefix, namespace):
        for entry in resolver.url_patterns:
            if isinstance(entry, URLResolver):
                inner = namespace
                if entry.namespace:
                    inner = f"{namespace}:{entry.namespace}" if namespace else entry.namespace
                walk(entry, prefix + str(entry.pattern), inner)
                continue
            assert isinstance(entry, URLPattern)
            pattern = entry.pattern
            if hasattr(pattern, "converters") and pattern.converters:
                names = tuple(pattern.converters)
            else:
                names = tuple(pattern.regex.groupindex)
            name = entry.name or ""
            if namespace and name:
                name = f"{namespace}:{name}"
            found.append(Pattern(prefix + str(pattern), name, names, entry.callback))

    walk(get_resolver(), "", "")
    return found


# --- Rules ------------------------------------------------------------------------------------
# Expected answers are a status or a set of statuses; a POST "allowed" answer is whatever the
# view does with the (often empty, invalid) input: anything but a refusal.


@dataclass
class Door:
    """One request shape at a URL pattern and what roles.md says it answers."""

    how: str  # object | page | list | search | admin | kpi_api | dashboard | block | drill
    kind: str | None = None  # the kind of record the URL names or lists
    method: str = "GET"
    expect: Callable | None = None  # (rules, obj) -> status(es); pages: (rules) -> status(es)
    data: Callable | dict | None = None  # request data, or (world, obj) -> data
    api: bool = False  # JSON body
    kwargs: Callable | None = None  # (world, obj) -> URL kwargs (default {"pk": obj.pk})
    params: Callable | dict | None = None  # query string, or (world, rules) -> dict
    shows: Callable | None = None  # lists: (rules, obj) -> bool, beyond visibility
    gate: Callable | None = None  # lists: (rules) -> bool; False: 403
    read: str = "html"  # lists: html | api | csv
    last: bool = False  # run after every other door (deletes files)
    sample: bool = False  # one record per expected answer (a change the GET door sweeps)
    told: bool = False  # notices: records of handoffs addressed to the persona may be named
    where: Callable | None = None  # objects: only the records of the kind that it takes
    # API lists: a record's identity and a row's.
    ident: Callable = lambda w, o: o.pk
    row_ident: Callable = lambda row: row["id"]


def read_rule(ok=200):
    return lambda r, o: ok if r.can_read(o) else 404


def edit_rule(ok=200):
    def expect(r, o):
        if not r.can_read(o):
            return 404
        return ok if r.can_edit(o) else 403

    return expect


def visible_and(test, ok):
    """Visible records: `ok` when test(rules, obj), else 403; hidden ones 404."""

    def expect(r, o):
        if not r.can_read(o):
            return 404
        return ok if test(r, o) else 403

    return expect


def decide_rule(ok, decided):
    def expect(r, o):
        if not r.can_read(o):
            return 404
        if o.facts["status"] != "pending":
            return decided
        return ok if r.can_decide(o) else 403

    return expect


def lead_decide_rule(ok):
    """/api/v1/leads/{id}/accept|reject/: the lead's pending handoff, 400 if none."""

    def expect(r, o):
        if not r.can_read(o):
            return 404
        pending = [
            r.w.objects[k]
            for k in o.facts.get("handoffs", [])
            if r.w.objects[k].facts["status"] == "pending"
        ]
        if not pending:
            return 400
        return ok if r.can_decide(pending[0]) else 403

    return expect


def role_page(what, ok=200):
    return lambda r: ok if r.can_create(what) else 403


def everyone(status=200):
    return lambda r: status


EDITED = {200, 204, 302, 400, 409}  # saved, redirected, or the input refused (not the user)


def checklist_step(w, o):
    """The first step of the handoff's checklist (a lead's handoff has none)."""
    item = w.objects.get(f"item_{o.key}")
    return {"item": item.pk if item else 0, "done": True}


def tick_rule(ok):
    def expect(r, o):
        if not r.can_read(o):
            return 404
        if o.facts["handoff_kind"] != "deal_to_cs":
            return 400  # a lead's handoff has no checklist
        item = r.w.objects[f"item_{o.key}"]
        return ok if r.can_tick(item) else 403

    return expect


def subscription_for_account(r, o):
    return r.role == "admin" or (r.role == "cs" and o.owner == r.p)


def lead_convertible(r, o):
    return r.can_edit(o) and r.can_create("opportunity")


def admin_only(r, o):
    return r.role == "admin"


def record_api(kind, edit=True, delete=None):
    """The GET, PATCH and DELETE of a record API's detail URL."""
    doors = [Door("object", kind, expect=read_rule())]
    if edit:
        doors.append(
            Door("object", kind, "PATCH", edit_rule(EDITED), data={}, api=True, sample=True)
        )
    if delete is not False:
        doors.append(
            Door(
                "object",
                kind,
                "DELETE",
                delete or edit_rule(EDITED),
                api=True,
                last=True,
                sample=True,
            )
        )
    return doors


def api_list(kind):
    return [Door("list", kind, read="api")]


def html_pages(kind, detail=True, edit=True, delete=True):
    doors = {}
    if detail:
        doors["detail"] = [Door("object", kind, expect=read_rule())]
    if edit:
        doors["edit"] = [
            Door("object", kind, expect=edit_rule()),
            Door("object", kind, "POST", edit_rule(EDITED), data={}, sample=True),
        ]
    if delete:
        doors["delete"] = [
            Door("object", kind, expect=edit_rule()),
            Door("object", kind, "POST", edit_rule(EDITED), last=True, sample=True),
        ]
    return doors


def _export(kind):
    return [Door("list", kind, read="csv", gate=lambda r: r.can_export(kind))]


def _handoff_queue_shows(r, o):
    if r.role in ("rep", "manager", "cs"):  # receiving teams see their own queue
        return o.facts["to_team"] == r.team
    return True


def _quota_grid_shows(r, o):
    # Reps see their own row, managers their team, executives and admins the team asked.
    if r.role == "rep":
        return o.owner == r.p
    return TEAM[o.owner] == ("north" if r.role != "manager" else r.team)


def _whose(r):
    return {"manager": "team", "admin": "all"}.get(r.role, "mine")


def _task_listed(r, o):
    if not o.facts["task"]:
        return False
    if r.role == "admin":
        return True
    if r.role == "manager":
        return TEAM[o.owner] == r.team
    return o.owner == r.p


def _stage_kwargs(w, o):
    return {"stage_id": o.pk}


def _item_kwargs(w, o):
    return {"pk": w.objects[o.facts["handoff"]].pk, "item_pk": o.pk}


def _account_kwargs(w, o):
    return {"account_pk": o.pk}


ACCOUNT, CONTACT, LEAD = html_pages("account"), html_pages("contact"), html_pages("lead")
DEAL = html_pages("opportunity", delete=False)
# Who may change records of a kind in bulk: everyone who may edit some of them.
BULK = {
    "opportunity": ("marketer", "executive"),
    "lead": ("cs", "executive"),
    "account": ("marketer", "executive"),
}


def _bulk(r, kind):
    return r.role not in BULK[kind]


def _kind(kind):
    return lambda w, o: {"kind": kind}


ACTIVITY = html_pages("activity", detail=False)  # shown on its record's page

RULES: dict[str, list[Door]] = {
    # Personal and public pages: the same for everyone signed in.
    "home": [Door("page", expect=everyone())],
    "home-block": [Door("home_block")],
    "healthz": [Door("page", expect=everyone())],
    "profile": [Door("page", expect=everyone())],
    "language-set": [Door("page", expect=everyone(405))],  # POST only
    "login": [Door("page", expect=everyone(302))],  # signed in: sent on
    "logout": [Door("page", expect=everyone(405))],  # POST only
    "password_change": [Door("page", expect=everyone())],
    "password_change_done": [Door("page", expect=everyone())],
    "password_reset": [Door("page", expect=everyone())],
    "password_reset_done": [Door("page", expect=everyone())],
    "password_reset_confirm": [
        Door("page", expect=everyone(), kwargs=lambda w, o: {"uidb64": "MQ", "token": "x-y"})
    ],
    "password_reset_complete": [Door("page", expect=everyone())],
    "api-root": [Door("page", expect=everyone())],
    "api-schema": [Door("page", expect=everyone())],
    "api-docs": [Door("page", expect=everyone())],
    "api-me": [Door("page", expect=everyone())],
    # Notifications: each user's own.
    # A handoff's notice names its lead: told while the persona's team could read it.
    "notification-list": [Door("list", "notification", told=True)],
    "notification-bell": [Door("page", expect=everyone())],
    "notification-read": [Door("page", method="POST", expect=everyone(302), data={})],
    "notification-open": [Door("object", "notification", expect=read_rule(302))],
    # Bulk changes from list pages: whoever may edit some records of the kind (what they
    # may change is cut from the selection, tested in test_bulk.py); offboarding: managers
    # and administrators; a bulk job: its author's (no job in this world: 404).
    "bulk-change": [
        Door(
            "page",
            method="POST",
            kwargs=_kind(k),
            data={},
            expect=lambda r, k=k: 302 if _bulk(r, k) else 403,
        )
        for k in BULK
    ],
    "bulk-fields": [
        Door("page", kwargs=_kind(k), expect=lambda r, k=k: 200 if _bulk(r, k) else 404)
        for k in BULK
    ],
    "bulk-job": [Door("page", kwargs=lambda w, o: {"pk": 2**31 - 1}, expect=everyone(404))],
    "offboard": [Door("page", expect=lambda r: 200 if r.role in ("manager", "admin") else 403)],
    # Merging duplicates: managers and administrators, on records they may see.
    "merge": [
        Door(
            "object",
            k,
            kwargs=lambda w, o, k=k: {"kind": k, "pk": o.pk},
            expect=visible_and(lambda r, o: r.role in ("manager", "admin"), 200),
        )
        for k in ("account", "contact", "lead")
    ],
    # Settings and the full dataset: administrators only.
    "dataset-export": [Door("page", expect=role_page("settings"))],
    # Imports: marketers (leads) and administrators; an upload is its uploader's.
    "import-new": [Door("page", expect=role_page("import"))],
    "import-detail": [Door("object", "import", expect=read_rule())],
    "import-progress": [Door("object", "import", expect=read_rule(204))],  # not running
    "import-rejects": [Door("object", "import", expect=read_rule())],
    "import-discard": [Door("object", "import", "POST", read_rule(302), last=True)],
    # Accounts, contacts, activities.
    "crm:account-list": [Door("list", "account")],
    "crm:account-create": [Door("page", expect=role_page("account"))],
    "crm:account-export": _export("account"),
    "crm:account-detail": ACCOUNT["detail"],
    "crm:account-edit": ACCOUNT["edit"],
    "crm:account-delete": ACCOUNT["delete"],
    "crm:contact-list": [Door("list", "contact")],
    "crm:contact-create": [Door("page", expect=role_page("contact"))],
    "crm:contact-export": _export("contact"),
    "crm:contact-detail": CONTACT["detail"],
    "crm:contact-edit": CONTACT["edit"],
    "crm:contact-delete": CONTACT["delete"],
    "crm:activity-list": [Door("list", "activity")],
    "crm:activity-create": [Door("page", expect=role_page("activity"))],
    "crm:activity-export": _export("activity"),
    "crm:activity-edit": ACTIVITY["edit"],
    "crm:activity-delete": ACTIVITY["delete"],
    "crm:search": [Door("search")],
    # Tasks: activities of kind task; "mine", a manager's team's, an admin's everyone's.
    "crm:task-list": [
        Door("list", "activity", params=lambda w, r: {"whose": _whose(r)}, shows=_task_listed)
    ],
    "crm:task-add": [
        Door("page", method="POST", expect=lambda r: 302 if r.can_create("activity") else 403)
    ],
    "crm:task-done": [
        Door("object", "activity", "POST", edit_rule(302), where=lambda o: o.facts["task"])
    ],
    "crm:subscription-create": [
        Door(
            "object",
            "account",
            expect=visible_and(subscription_for_account, 200),
            kwargs=_account_kwargs,
        )
    ],
    "crm:subscription-change": [Door("object", "subscription", "POST", edit_rule(302), data={})],
    "crm:subscription-cancel": [Door("object", "subscription", "POST", edit_rule(302), data={})],
    "crm:cs-workspace": [Door("page", expect=everyone())],
    # Leads and handoffs.
    "pipeline:lead-list": [Door("list", "lead")],
    "pipeline:lead-create": [Door("page", expect=role_page("lead"))],
    "pipeline:lead-export": _export("lead"),
    "pipeline:lead-detail": LEAD["detail"],
    "pipeline:lead-edit": LEAD["edit"],
    "pipeline:lead-delete": LEAD["delete"],
    "pipeline:lead-handoff": [
        Door("object", "lead", expect=visible_and(lambda r, o: r.can_create("handoff"), 200)),
        Door(
            "object",
            "lead",
            "POST",
            visible_and(lambda r, o: r.can_create("handoff"), 200),
            data={},
        ),
    ],
    "pipeline:lead-convert": [
        Door("object", "lead", expect=visible_and(lead_convertible, 200)),
    ],
    "pipeline:handoff-queue": [
        Door("list", "handoff", params={"status": "any"}, shows=_handoff_queue_shows)
    ],
    "pipeline:handoff-detail": [
        Door(
            "object",
            "handoff",
            expect=lambda r, o: (
                404
                if not r.can_read(o)
                else 302
                if o.facts["handoff_kind"] == "lead_to_sales"
                else 200
            ),
        )
    ],
    "pipeline:handoff-checklist-item": [
        Door(
            "object",
            "checklist_item",
            "POST",
            lambda r, o: 404 if not r.can_read(o) else 302 if r.can_tick(o) else 403,
            data={"done": "1"},
            kwargs=_item_kwargs,
        )
    ],
    "pipeline:handoff-accept": [Door("object", "handoff", "POST", decide_rule(302, 302), data={})],
    "pipeline:handoff-reject": [
        Door("object", "handoff", "POST", decide_rule(302, 302), data={"reason": "Sweep"})
    ],
    # Deals.
    "pipeline:board": [Door("list", "opportunity", params={"close": "all"})],
    "pipeline:board-column": [
        Door(
            "object",
            "stage",
            expect=lambda r, o: 200,
            kwargs=_stage_kwargs,
            params={"close": "all"},
        )
    ],
    "pipeline:opportunity-list": [Door("list", "opportunity")],
    "pipeline:opportunity-create": [Door("page", expect=role_page("opportunity"))],
    "pipeline:opportunity-export": _export("opportunity"),
    "pipeline:opportunity-detail": DEAL["detail"],
    "pipeline:opportunity-edit": DEAL["edit"],
    "pipeline:opportunity-move": [
        Door("object", "opportunity", "POST", edit_rule({200, 400}), data={})
    ],
    # Quotas, dashboards, KPIs, goals.
    "metrics:quota-grid": [
        Door(
            "list",
            "quota",
            params=lambda w, r: {"team": w.teams["north"].pk},
            shows=_quota_grid_shows,
            gate=lambda r: r.can_create("quota_page"),
        ),
        Door(
            "page",
            method="POST",
            expect=lambda r: 302 if r.can_create("quota_write") else 403,
            data={},
        ),
    ],
    "metrics:dashboards": [Door("page", expect=everyone(302))],
    "metrics:kpi-records": [Door("drill")],
    "metrics:goal-new": [Door("page", expect=role_page("goal"))],
    "metrics:goal-delete": [
        Door("object", "goal", "POST", lambda r, o: 302 if r.can_create("goal") else 403)
    ],
    "metrics:dashboard": [Door("dashboard", read="every")],
    "metrics:dashboard-stamp": [Door("dashboard")],
    "metrics:dashboard-block": [Door("block")],
    "api-kpis": [Door("kpi_api")],
    "api-kpi-series": [Door("kpi_api", params={"kpi": "bookings"})],
    "api-kpi-drilldown": [Door("drill", read="api")],
    # The REST API: lists, records, actions.
    "account-list": api_list("account"),
    "account-detail": record_api("account"),
    "contact-list": api_list("contact"),
    "contact-detail": record_api("contact"),
    # Tasks: the activities of kind task, through their own endpoint.
    "task-list": [Door("list", "activity", read="api", shows=lambda r, o: o.facts["task"])],
    "task-detail": [
        Door("object", "activity", expect=read_rule(), where=lambda o: o.facts["task"]),
        Door(
            "object",
            "activity",
            expect=lambda r, o: 404,
            where=lambda o: not o.facts["task"],
        ),
        Door(
            "object",
            "activity",
            "PATCH",
            edit_rule(EDITED),
            data={},
            api=True,
            sample=True,
            where=lambda o: o.facts["task"],
        ),
    ],
    # Notifications: each user's own; bulk reassign: the input is checked first (400).
    "api-notification-list": [Door("list", "notification", read="api", told=True)],
    "api-notification-detail": [Door("object", "notification", expect=read_rule())],
    "api-notification-read": [Door("object", "notification", "POST", read_rule(), api=True)],
    "api-notification-read-all": [
        Door("page", method="POST", expect=everyone(), data={}, api=True)
    ],
    "api-bulk-reassign": [Door("page", method="POST", expect=everyone(400), data={}, api=True)],
    "api-bulk-job": [Door("page", kwargs=lambda w, o: {"pk": 2**31 - 1}, expect=everyone(404))],
    "activity-list": api_list("activity"),
    "activity-detail": record_api("activity"),
    "lead-list": api_list("lead"),
    "lead-detail": record_api("lead"),
    "lead-accept": [
        Door("object", "lead", "POST", lead_decide_rule({200, 400}), data={}, api=True)
    ],
    "lead-reject": [
        Door("object", "lead", "POST", lead_decide_rule(200), data={"reason": "Sweep"}, api=True)
    ],
    "lead-convert": [
        Door("object", "lead", "POST", visible_and(lead_convertible, 400), data={}, api=True)
    ],
    "lead-handoff": [
        Door(
            "object",
            "lead",
            "POST",
            visible_and(lambda r, o: r.can_create("handoff"), 400),
            data={},
            api=True,
        )
    ],
    "handoff-list": api_list("handoff"),
    "handoff-detail": [Door("object", "handoff", expect=read_rule())],
    "handoff-accept": [
        Door("object", "handoff", "POST", decide_rule({200, 400}, 400), data={}, api=True)
    ],
    "handoff-reject": [
        Door("object", "handoff", "POST", decide_rule(200, 400), data={"reason": "Sweep"}, api=True)
    ],
    "handoff-checklist": [
        Door("object", "handoff", "POST", tick_rule(200), data=checklist_step, api=True)
    ],
    "opportunity-list": api_list("opportunity"),
    "opportunity-detail": record_api("opportunity", delete=visible_and(admin_only, 204)),
    "opportunity-move": [Door("object", "opportunity", "POST", edit_rule(400), data={}, api=True)],
    "pipeline-list": api_list("pipeline"),
    "pipeline-detail": [
        Door("object", "pipeline", expect=read_rule()),
        Door("object", "pipeline", "PATCH", visible_and(admin_only, 200), data={}, api=True),
    ],
    "stage-list": api_list("stage"),
    "stage-detail": [
        Door("object", "stage", expect=read_rule()),
        Door("object", "stage", "PATCH", visible_and(admin_only, 200), data={}, api=True),
    ],
    "stage-history-list": api_list("stage_change"),
    "stage-history-detail": [Door("object", "stage_change", expect=read_rule())],
    "quota-list": api_list("quota"),
    "quota-detail": record_api("quota"),
    "subscription-list": api_list("subscription"),
    "subscription-detail": [
        Door("object", "subscription", expect=read_rule()),
        # No update or delete: history is never rewritten (a plan change ends one).
        Door("object", "subscription", "PATCH", lambda r, o: 405, data={}, api=True),
    ],
    "subscription-cancel": [
        Door("object", "subscription", "POST", edit_rule(400), data={}, api=True)
    ],
    "subscription-change-plan": [
        Door("object", "subscription", "POST", edit_rule(400), data={}, api=True)
    ],
    "health-list": [
        Door(
            "list",
            "health",
            read="api",
            ident=lambda w, o: w.objects[o.facts["account"]].pk,  # a score a day per account
            row_ident=lambda row: row["account"],
        )
    ],
    "health-detail": [Door("object", "health", expect=read_rule())],
}
# Django's admin, one class: only the staff administrator gets in.
ADMIN_RULE = [Door("admin")]


def rules_for(pattern: Pattern) -> list[Door] | None:
    if pattern.is_admin:
        return ADMIN_RULE
    return RULES.get(pattern.name)


# --- The sweep ----------------------------------------------------------------------------------

MARKER = re.compile(r"Zq\d{3}x")


def shows(body: str, marker: str) -> bool:
    """The marker is on the page: a name's as it is, a quota's amount as a whole number."""
    if not marker:
        return False
    if marker.startswith("Zq"):
        return marker in body
    return re.search(rf"(?<![\w.,]){re.escape(marker)}(?![\w,])", body) is not None


TEXT_TYPES = ("text/", "application/json", "application/javascript")


@dataclass
class Sweep:
    client: object
    w: World
    r: Rules
    failures: list = field(default_factory=list)
    requests: int = 0
    checks: Counter = field(default_factory=Counter)

    # Requests ---------------------------------------------------------------------------------
    def call(self, method, url, data=None, api=False, params=None):
        self.requests += 1
        if method == "GET":
            response = self.client.get(url, params or {})
            return response, self.body(response)
        kwargs = {}
        if api:
            kwargs = {"data": json.dumps(data or {}), "content_type": "application/json"}
        elif data is not None:
            kwargs = {"data": data}
        # A change the persona may make is undone at once: the world stays as built.
        with transaction.atomic():
            response = getattr(self.client, method.lower())(url, **kwargs)
            body = self.body(response)
            transaction.set_rollback(True)
        return response, body

    @staticmethod
    def body(response) -> str:
        if getattr(response, "streaming", False):
            content = b"".join(response.streaming_content)
        else:
            content = response.content
        kind = response.get("Content-Type", "")
        if not kind.startswith(TEXT_TYPES):
            return ""
        return content.decode("utf-8", "replace")

    def fail(self, pattern, what, message):
        self.failures.append(f"{self.r.p} {pattern.name or pattern.route} {what}: {message}")

    def expect_status(self, pattern, what, response, expected):
        self.checks["status"] += 1
        allowed = expected if isinstance(expected, set) else {expected}
        if response.status_code not in allowed:
            self.fail(
                pattern, what, f"answered {response.status_code}, roles.md: {sorted(allowed)}"
            )
            return False
        return True

    def no_leak(self, pattern, what, body, ignore=(), told=False):
        """No record the persona may not see shows on a page it may see."""
        self.checks["leak"] += 1
        exempt = set()
        if told:  # the handoffs addressed to the persona or its team, and their subjects
            for h in self.w.of_kind("handoff"):
                if self.r.p == h.facts["to_user"] or self.r.team == h.facts["to_team"]:
                    exempt |= {h.key, h.facts["subject"]}
        hidden = {
            o.marker: o.key
            for o in self.w.objects.values()
            if o.marker and o.kind not in ignore and not self.r.can_read(o) and o.key not in exempt
        }
        shown = {hidden[m] for m in MARKER.findall(body) if m in hidden}
        shown |= {
            key
            for marker, key in hidden.items()
            if not marker.startswith("Zq") and shows(body, marker)
        }
        if shown:
            self.fail(pattern, what, f"shows records it may not see: {sorted(shown)}")

    def objects_for(self, pattern, door):
        objects = [o for o in self.w.of_kind(door.kind) if door.where is None or door.where(o)]
        if not (pattern.is_format or door.sample):
            return objects
        # A format suffix answers as its pattern does, and a change as the form or record
        # it changes (swept for every record): one record per expected answer.
        seen, sample = set(), []
        for obj in objects:
            outcome = repr(door.expect(self.r, obj))
            if outcome not in seen:
                seen.add(outcome)
                sample.append(obj)
        return sample

    def url(self, pattern, kwargs):
        kwargs = dict(kwargs)
        if pattern.is_format:
            kwargs["format"] = "json"
        return reverse(pattern.name, kwargs=kwargs)

    # Doors ------------------------------------------------------------------------------------
    def run(self, pattern: Pattern, door: Door):
        getattr(self, f"door_{door.how}")(pattern, door)

    def door_page(self, pattern, door):
        kwargs = door.kwargs(self.w, None) if door.kwargs else {}
        url = self.url(pattern, kwargs)
        data = door.data if not callable(door.data) else door.data(self.w, None)
        response, body = self.call(door.method, url, data, door.api)
        if self.expect_status(pattern, f"{door.method} {url}", response, door.expect(self.r)):
            self.no_leak(pattern, url, body, ignore=("quota",) if "kpi" in url else ())

    def door_object(self, pattern, door):
        for obj in self.objects_for(pattern, door):
            kwargs = door.kwargs(self.w, obj) if door.kwargs else {"pk": obj.pk}
            url = self.url(pattern, kwargs)
            data = door.data(self.w, obj) if callable(door.data) else door.data
            params = door.params if door.method == "GET" else None
            response, body = self.call(door.method, url, data, door.api, params)
            what = f"{door.method} {url} ({obj.key})"
            expected = door.expect(self.r, obj)
            if self.expect_status(pattern, what, response, expected) and response.status_code < 300:
                self.no_leak(pattern, what, body)

    def door_list(self, pattern, door):
        params = door.params(self.w, self.r) if callable(door.params) else dict(door.params or {})
        url = self.url(pattern, {})
        response, body = self.call("GET", url, params=params)
        expected = 200 if door.gate is None or door.gate(self.r) else 403
        if not self.expect_status(pattern, f"GET {url}", response, expected) or expected != 200:
            return
        self.no_leak(pattern, url, body, told=door.told)
        wanted, shown = set(), set()
        for obj in self.w.of_kind(door.kind):
            if self.r.can_read(obj) and (door.shows is None or door.shows(self.r, obj)):
                wanted.add(obj.key)
            if door.read == "api":
                rows = json.loads(body)
                rows = rows["results"] if isinstance(rows, dict) else rows  # unpaginated
                present = door.ident(self.w, obj) in {door.row_ident(row) for row in rows}
            else:
                present = shows(body, obj.marker)
            if present:
                shown.add(obj.key)
        if door.read != "api":  # records without a marker are not searched for in pages
            wanted = {k for k in wanted if self.w.objects[k].marker}
        self.checks["list"] += 1
        if wanted != shown:
            self.fail(
                pattern,
                f"GET {url}",
                f"lists {sorted(shown - wanted)} it should not and misses {sorted(wanted - shown)}",
            )

    def door_search(self, pattern, door):
        url = self.url(pattern, {})
        for kind in ("account", "contact", "lead"):
            for obj in self.w.of_kind(kind):
                # Its first letters (words are found by prefix): the page repeats the query.
                query = obj.marker[:-1]
                response, body = self.call("GET", url, params={"q": query})
                self.expect_status(pattern, f"GET {url}?q={query}", response, 200)
                self.checks["search"] += 1
                if shows(body, obj.marker) != self.r.can_read(obj):
                    self.fail(
                        pattern,
                        f"GET {url}?q={obj.marker} ({obj.key})",
                        "finds it" if shows(body, obj.marker) else "does not find it",
                    )
                self.no_leak(pattern, url, body)

    def door_admin(self, pattern, door):
        staff = self.r.role == "admin"
        kwargs = admin_kwargs(pattern, self.w)
        if kwargs is None:
            return
        if pattern.name:
            url = reverse(pattern.name, kwargs=kwargs)
        else:  # the catch-all behind every admin URL
            url = reverse("admin:index") + "sweep-unknown/"
        response, _body = self.call("GET", url)
        login = reverse("admin:login")
        if not pattern.name:
            expected, redirect = (404, None) if staff else (302, login)
        elif pattern.name == "admin:login":
            expected, redirect = (302, None) if staff else (200, None)
        elif pattern.name == "admin:logout":
            expected, redirect = (405, None) if staff else (302, reverse("admin:index"))
        elif staff:  # in; the admin's own refusals (a read-only model's add page) stand
            expected, redirect = ({200, 302, 403}, None)
        else:
            expected, redirect = 302, login
        if self.expect_status(pattern, f"GET {url}", response, expected):
            if redirect and not response["Location"].startswith(redirect):
                self.fail(pattern, f"GET {url}", f"sent to {response['Location']}")
            if staff and response.status_code == 302 and response["Location"].startswith(login):
                self.fail(pattern, f"GET {url}", "sends the administrator to the login page")

    def door_home_block(self, pattern, door):
        """Which blocks a role's home has is the home page's design (revops/home.py), not
        roles.md: the persona's own blocks answer and show only what it may see; the others
        are 404."""
        from revops.home import BLOCKS, BY_ROLE

        own = set(BY_ROLE.get(self.r.role, []))
        for name in [*BLOCKS, "nope"]:
            url = self.url(pattern, {"name": name})
            response, body = self.call("GET", url)
            if self.expect_status(pattern, f"GET {url}", response, 200 if name in own else 404):
                self.no_leak(pattern, url, body, ignore=("quota",))

    # KPI scopes -------------------------------------------------------------------------------
    def scopes(self):
        """(label, kind, who, API params, dashboard scope param): every team and owner
        scope, the organisation, and unknown ones."""
        w = self.w
        rows = [("org", "org", None, {}, "org")]
        for key in ("north", "south", "cs"):
            team = w.teams[key]
            rows.append((f"team {key}", "team", key, {"team": team.name}, f"team:{team.pk}"))
        for persona in ("rep", "teammate", "other_team_rep", "manager", "cs"):
            user = w.users[persona]
            rows.append(
                (f"owner {persona}", "owner", persona, {"owner": user.email}, f"owner:{user.pk}")
            )
        rows.append(("unknown team", "unknown", None, {"team": "No Such Team"}, "team:999999999"))
        rows.append(
            ("unknown owner", "unknown", None, {"owner": "nobody@nowhere.test"}, "owner:999999999")
        )
        rows.append(("bad scope", "unknown", None, {"team": ""}, "bogus"))
        return rows

    def scope_answer(self, kind, who):
        if kind == "own":
            return 200
        if kind == "unknown":
            return 400
        return 200 if self.r.scope_visible(kind, who) else 404

    def door_kpi_api(self, pattern, door):
        url = self.url(pattern, {})
        for label, kind, who, params, _param in self.scopes():
            if label == "bad scope":
                continue  # an empty name asks for no scope at all
            response, _body = self.call("GET", url, params={**params, **(door.params or {})})
            self.expect_status(
                pattern, f"GET {url} {label}", response, self.scope_answer(kind, who)
            )

    def door_dashboard(self, pattern, door):
        """Every dashboard at every scope (the stamp: the first dashboard at every scope,
        the others at the persona's own); an unknown dashboard is a 404."""
        for number, dashboard in enumerate([*DASHBOARDS, "nope"]):
            url = self.url(pattern, {"kind": dashboard})
            every = door.read == "every" or number == 0
            scopes = self.scopes() if every and dashboard != "nope" else [self.own_scope()]
            for label, kind, who, _params, param in scopes:
                response, body = self.call("GET", url, params={"scope": param})
                expected = 404 if dashboard == "nope" else self.scope_answer(kind, who)
                if self.expect_status(pattern, f"GET {url} {label}", response, expected):
                    self.no_leak(pattern, url, body, ignore=("quota",))

    def own_scope(self):
        return ("own scope", "own", None, {}, "")

    def door_block(self, pattern, door):
        """Every block of every dashboard at the persona's own scope, the cards at every
        scope; an unknown block is a 404."""
        for dashboard, spec in DASHBOARDS.items():
            for block in [*spec["blocks"], "nope"]:
                url = self.url(pattern, {"kind": dashboard, "block": block})
                response, body = self.call("GET", url)
                if self.expect_status(
                    pattern, f"GET {url}", response, 404 if block == "nope" else 200
                ):
                    self.no_leak(pattern, url, body, ignore=("quota",))
        url = self.url(pattern, {"kind": next(iter(DASHBOARDS)), "block": "cards"})
        for label, kind, who, _params, param in self.scopes():
            response, _body = self.call("GET", url, params={"scope": param})
            self.expect_status(
                pattern, f"GET {url} {label}", response, self.scope_answer(kind, who)
            )

    DRILLED = ("bookings", "leads_created", "mrr")

    def behind(self, kpi, kind, who):
        """The records behind a KPI of today's month for a scope (world facts)."""
        if kind == "org":
            owners = None
        elif kind == "team":
            owners = {p for p, team in TEAM.items() if team == who}
        else:
            owners = {who}

        def mine(owner):
            return owners is None or owner in owners

        if kpi == "bookings":
            return [
                o for o in self.w.of_kind("opportunity") if o.facts.get("won") and mine(o.owner)
            ]
        if kpi == "leads_created":
            return [o for o in self.w.of_kind("lead") if mine(o.owner)]
        paying = {
            s.facts["account"]
            for s in self.w.of_kind("subscription")
            if s.facts["status"] == "confirmed"
        }
        return [o for o in self.w.of_kind("account") if o.key in paying and mine(o.owner)]

    def door_drill(self, pattern, door):
        url = self.url(pattern, {})
        for kpi in self.DRILLED:
            for label, kind, who, params, param in self.scopes():
                if kind == "unknown" and kpi != self.DRILLED[0]:
                    continue  # refused before any KPI is read
                if door.read == "api":
                    if label == "bad scope":
                        continue
                    query = {**params, "kpi": kpi}
                else:
                    query = {"kpi": kpi, "scope": param}
                expected = self.scope_answer(kind, who)
                records = []
                if expected == 200:
                    records = self.behind(kpi, kind, who)
                    if not all(self.r.can_read(o) for o in records):
                        expected = 404  # offered only where every record may be seen
                response, body = self.call("GET", url, params=query)
                what = f"GET {url} {kpi} {label}"
                if not self.expect_status(pattern, what, response, expected) or expected != 200:
                    continue
                self.checks["drill"] += 1
                if door.read == "api":
                    ids = {row["id"] for row in json.loads(body)["records"]}
                    if ids != {o.pk for o in records}:
                        self.fail(pattern, what, f"lists ids {sorted(ids)}")
                else:
                    missing = [o.key for o in records if not shows(body, o.marker)]
                    if missing:
                        self.fail(pattern, what, f"misses {missing}")
                    self.no_leak(pattern, what, body, ignore=("quota",))


def admin_kwargs(pattern: Pattern, w: World) -> dict | None:
    """URL arguments for an admin pattern: a real row for object pages."""
    kwargs = {}
    model_admin = getattr(pattern.callback, "model_admin", None)
    for name in pattern.kwargs:
        if name == "object_id":
            if model_admin is None:
                return None
            row = model_admin.model._default_manager.order_by("pk").first()
            if row is None:
                return None
            kwargs[name] = str(row.pk)
        elif name == "url" and not pattern.name:
            pass
        elif name == "app_label":
            kwargs[name] = next(iter(admin.site._registry))._meta.app_label
        else:
            return None  # view-on-site shortcuts and the like: nothing to ask for
    return kwargs


# --- Tests --------------------------------------------------------------------------------------


def test_every_url_pattern_has_a_rule():
    """A new view fails here until its rules are written down in RULES."""
    patterns = discover()
    missing = sorted({p.name or p.route for p in patterns if rules_for(p) is None})
    assert not missing, f"URL patterns without access rules in RULES: {missing}"
    stale = sorted(set(RULES) - {p.name for p in patterns})
    assert not stale, f"rules for URL patterns that no longer exist: {stale}"


@pytest.fixture
def world(
    rep,
    teammate,
    other_team_rep,
    manager,
    marketer,
    cs,
    executive,
    admin_user,
    sales_team,
    other_sales_team,
    settings,
    tmp_path,
    request,
):
    settings.MEDIA_ROOT = tmp_path
    # Thousands of 403 and 404 answers: their warnings would drown the failures' report.
    request_log = logging.getLogger("django.request")
    level = request_log.level
    request_log.setLevel(logging.ERROR)
    request.addfinalizer(lambda: request_log.setLevel(level))
    # Thousands of API requests in a minute: above the rate limit, which is not tested here.
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"user": "1000000/minute"},
    }
    users = dict(
        zip(
            PERSONAS,
            (rep, teammate, other_team_rep, manager, marketer, cs, executive, admin_user),
            strict=True,
        )
    )
    teams = {"north": sales_team, "south": other_sales_team, "cs": cs.team}
    return build(users, teams, tmp_path)


@pytest.mark.parametrize("persona", PERSONAS)
def test_every_door_answers_each_persona_as_roles_md_says(world, client, persona):
    assert ROLE[persona] == world.users[persona].role
    client.force_login(world.users[persona])
    client.raise_request_exception = False  # a crash is a 500 to report with the others
    sweep = Sweep(client, world, Rules(world, persona))
    started = time.monotonic()
    patterns = discover()
    doors = [(p, door) for p in patterns for door in rules_for(p) or ()]
    unclassified = [p.name or p.route for p in patterns if rules_for(p) is None]
    for pattern, door in sorted(doors, key=lambda pair: pair[1].last):
        sweep.run(pattern, door)
    print(
        f"\n{persona}: {len(patterns)} URL patterns, {len(world.objects)} records, "
        f"{sweep.requests} requests, checks {dict(sweep.checks)}, "
        f"{time.monotonic() - started:.1f} s"
    )
    problems = [f"URL pattern without rules: {name}" for name in unclassified]
    problems += sweep.failures
    assert not problems, f"{len(problems)} answers disagree with roles.md:\n" + "\n".join(
        problems[:150]
    )
