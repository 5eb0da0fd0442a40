"""Mark owners dirty for what the dashboards' breakdowns read beyond the KPI inputs:
handoffs (by the user they are addressed to), activities on deals (the coaching view),
account health, and a lead's change for the owner of the deal it was converted into (the
deal's source)."""

from django.db import migrations


MARK = "INSERT INTO metrics_kpidirty (owner_key) SELECT DISTINCT k FROM ({select}) AS keys(k);"

OWNED = {
    "pipeline_handoff": "SELECT COALESCE(to_user_id, 0) FROM {rows}",
    "crm_activity": (
        "SELECT COALESCE(o.owner_id, 0) FROM {rows} r "
        "JOIN pipeline_opportunity o ON o.id = r.opportunity_id"
    ),
    "pipeline_lead": (
        "SELECT COALESCE(owner_id, 0) FROM {rows} UNION "
        "SELECT COALESCE(o.owner_id, 0) FROM {rows} r "
        "JOIN pipeline_opportunity o ON o.id = r.converted_opportunity_id"
    ),
}
HEALTH = (
    "SELECT COALESCE(n.owner_id, 0) FROM kpi_new n JOIN kpi_old o USING (id) "
    "WHERE n.health_score IS DISTINCT FROM o.health_score"
)


def _body(select: str) -> str:
    new, old = select.format(rows="kpi_new"), select.format(rows="kpi_old")
    return (
        "IF TG_OP = 'INSERT' THEN " + MARK.format(select=new) + "\n"
        "ELSIF TG_OP = 'DELETE' THEN " + MARK.format(select=old) + "\n"
        "ELSE " + MARK.format(select=f"{new} UNION {old}") + "\nEND IF;"
    )


def _function(name: str, body: str) -> str:
    return (
        f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        f"BEGIN\n{body}\nRETURN NULL;\nEND $$;"
    )


REFERENCING = {
    "INSERT": "NEW TABLE AS kpi_new",
    "UPDATE": "NEW TABLE AS kpi_new OLD TABLE AS kpi_old",
    "DELETE": "OLD TABLE AS kpi_old",
}


def forward() -> list[str]:
    statements = []
    for table, select in OWNED.items():
        function = f"kpi_dirty_{table}"
        statements.append(_function(function, _body(select)))
        if table != "pipeline_lead":  # its triggers exist (0003); only the function changes
            statements += [
                f"CREATE TRIGGER kpi_dirty_{op.lower()} AFTER {op} ON {table} "
                f"REFERENCING {REFERENCING[op]} FOR EACH STATEMENT EXECUTE FUNCTION {function}();"
                for op in ("INSERT", "UPDATE", "DELETE")
            ]
    statements.append(_function("kpi_dirty_crm_account_health", MARK.format(select=HEALTH)))
    statements.append(
        "CREATE TRIGGER kpi_dirty_health AFTER UPDATE ON crm_account "
        f"REFERENCING {REFERENCING['UPDATE']} FOR EACH STATEMENT "
        "EXECUTE FUNCTION kpi_dirty_crm_account_health();"
    )
    return statements


def reverse() -> list[str]:
    statements = ["DROP TRIGGER IF EXISTS kpi_dirty_health ON crm_account;"]
    statements.append("DROP FUNCTION IF EXISTS kpi_dirty_crm_account_health();")
    for table in ("pipeline_handoff", "crm_activity"):
        for op in ("insert", "update", "delete"):
            statements.append(f"DROP TRIGGER IF EXISTS kpi_dirty_{op} ON {table};")
        statements.append(f"DROP FUNCTION IF EXISTS kpi_dirty_{table}();")
    lead = "SELECT COALESCE(owner_id, 0) FROM {rows}"
    statements.append(_function("kpi_dirty_pipeline_lead", _body(lead)))
    return statements


class Migration(migrations.Migration):
    dependencies = [("metrics", "0004_breakdowns_goals")]

    operations = [migrations.RunSQL(forward(), reverse())]
