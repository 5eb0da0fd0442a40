"""Triggers that mark KPI scopes dirty in the transaction of every change to a KPI input.

Statement-level with transition tables: one INSERT … SELECT DISTINCT per statement, so a
bulk import of a million rows adds one mark per owner per batch, not per row. They see every
path into the data alike: pages, API, imports, tasks, `queryset.update()`, raw SQL.
"""

from django.db import migrations

EVERYONE = "SELECT -1"

# table: (owner keys of the new rows, of the old rows), as SELECTs over kpi_new / kpi_old.
OWNED = {
    "pipeline_opportunity": "SELECT COALESCE(owner_id, 0) FROM {rows}",
    "pipeline_lead": "SELECT COALESCE(owner_id, 0) FROM {rows}",
    "metrics_quota": "SELECT user_id FROM {rows}",
    "crm_subscription": (
        "SELECT COALESCE(a.owner_id, 0) FROM {rows} r JOIN crm_account a ON a.id = r.account_id"
    ),
    "pipeline_stagechange": (
        "SELECT COALESCE(o.owner_id, 0) FROM {rows} r "
        "JOIN pipeline_opportunity o ON o.id = r.opportunity_id"
    ),
    "revops_fxrate": EVERYONE,
    "pipeline_stage": EVERYONE,
}
# table: owner keys to mark when an UPDATE changes what the KPIs read of the row.
CHANGED = {
    # The account's owner scopes its subscriptions.
    "crm_account": (
        "SELECT COALESCE(n.owner_id, 0) FROM kpi_new n JOIN kpi_old o USING (id) "
        "WHERE n.owner_id IS DISTINCT FROM o.owner_id "
        "UNION SELECT COALESCE(o.owner_id, 0) FROM kpi_new n JOIN kpi_old o USING (id) "
        "WHERE n.owner_id IS DISTINCT FROM o.owner_id"
    ),
    # A team's totals are its members' today.
    "revops_user": (
        "SELECT n.id FROM kpi_new n JOIN kpi_old o USING (id) "
        "WHERE n.team_id IS DISTINCT FROM o.team_id"
    ),
    "revops_organisation": (
        "SELECT -1 FROM kpi_new n JOIN kpi_old o USING (id) "
        "WHERE (n.base_currency, n.calendar, n.timezone) "
        "IS DISTINCT FROM (o.base_currency, o.calendar, o.timezone)"
    ),
}

MARK = "INSERT INTO metrics_kpidirty (owner_key) SELECT DISTINCT k FROM ({select}) AS keys(k);"


def _function(name: str, body: str) -> str:
    return (
        f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        f"BEGIN\n{body}\nRETURN NULL;\nEND $$;"
    )


def _trigger(table: str, operation: str, function: str) -> str:
    referencing = {
        "INSERT": "NEW TABLE AS kpi_new",
        "UPDATE": "NEW TABLE AS kpi_new OLD TABLE AS kpi_old",
        "DELETE": "OLD TABLE AS kpi_old",
    }[operation]
    return (
        f"CREATE TRIGGER kpi_dirty_{operation.lower()} AFTER {operation} ON {table} "
        f"REFERENCING {referencing} FOR EACH STATEMENT EXECUTE FUNCTION {function}();"
    )


def forward_sql() -> list[str]:
    statements = []
    for table, select in OWNED.items():
        function = f"kpi_dirty_{table}"
        if select == EVERYONE:
            body = MARK.format(select=EVERYONE)
        else:
            new, old = select.format(rows="kpi_new"), select.format(rows="kpi_old")
            body = (
                "IF TG_OP = 'INSERT' THEN " + MARK.format(select=new) + "\n"
                "ELSIF TG_OP = 'DELETE' THEN " + MARK.format(select=old) + "\n"
                "ELSE " + MARK.format(select=f"{new} UNION {old}") + "\nEND IF;"
            )
        statements.append(_function(function, body))
        operations = (
            ("INSERT", "DELETE")
            if table == "pipeline_stagechange"
            else (
                "INSERT",
                "UPDATE",
                "DELETE",
            )
        )
        statements += [_trigger(table, operation, function) for operation in operations]
    for table, select in CHANGED.items():
        function = f"kpi_dirty_{table}"
        statements.append(_function(function, MARK.format(select=select)))
        statements.append(_trigger(table, "UPDATE", function))
    return statements


def reverse_sql() -> list[str]:
    statements = []
    for table in [*OWNED, *CHANGED]:
        for operation in ("insert", "update", "delete"):
            statements.append(f"DROP TRIGGER IF EXISTS kpi_dirty_{operation} ON {table};")
        statements.append(f"DROP FUNCTION IF EXISTS kpi_dirty_{table}();")
    return statements


class Migration(migrations.Migration):
    dependencies = [
        ("metrics", "0002_kpi_snapshots"),
        ("crm", "0004_account_health_score_churnreason_subscription_and_more"),
        ("pipeline", "0005_default_checklist"),
        ("revops", "0007_importupload"),
    ]

    operations = [migrations.RunSQL(forward_sql(), reverse_sql())]
