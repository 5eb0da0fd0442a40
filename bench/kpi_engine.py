"""Time the KPI engine on a synthetic organisation of the spec's `large` size.

    .venv/bin/python -m revops.launcher exec -- .venv/bin/python bench/kpi_engine.py [--scale large]

Builds (once) a database `daramad_bench_kpi` with SQL `generate_series` (triggers off
while filling), then measures the `kpis` command for the organisation, one full snapshot
pass for every scope, and a scoped refresh after one deal changes. Stop-gap until
`make bench` and `seed_demo --scale large` (issue 10) measure everything.
"""

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
SCALES = {
    "medium": {
        "users": 100,
        "accounts": 10_000,
        "deals": 100_000,
        "leads": 100_000,
        "subs": 20_000,
    },
    "large": {
        "users": 500,
        "accounts": 100_000,
        "deals": 1_000_000,
        "leads": 1_000_000,
        "subs": 200_000,
    },
}

FILL = """
SET session_replication_role = replica;
INSERT INTO revops_team (name, kind) SELECT 'Team ' || t, 'sales' FROM generate_series(1, 25) t;
INSERT INTO revops_user (password, is_superuser, email, full_name, role, team_id, language,
    calendar, is_active, is_staff, date_joined)
SELECT '!', false, 'seller' || u || '@bench.example', 'Seller ' || u, 'rep',
    (SELECT min(id) FROM revops_team) + u % 25, 'en', '', true, false, now()
FROM generate_series(1, {users}) u;
INSERT INTO crm_account (external_id, name, domain, industry, country, owner_id, created_on,
    is_deleted)
SELECT 'acc-' || a, 'Account ' || a, '', '', '',
    (SELECT min(id) FROM revops_user) + a % {users}, DATE '2023-01-01' + a % 1000, false
FROM generate_series(1, {accounts}) a;
INSERT INTO pipeline_opportunity (external_id, account_id, name, owner_id, pipeline_id, stage_id,
    status, kind, amount, one_time_amount, currency, contract_months, expected_close_on,
    forecast_category, created_on, closed_on, lost_reason, metrics, economic_buyer,
    decision_criteria, decision_process, identified_pain, champion, stage_entered_on, version)
SELECT 'opp-' || d, (SELECT min(id) FROM crm_account) + d % {accounts}, 'Deal ' || d,
    (SELECT min(id) FROM revops_user) + (d * 7) % {users},
    (SELECT id FROM pipeline_pipeline WHERE is_default),
    s.id, s.outcome, CASE WHEN d % 5 = 0 THEN 'expansion' ELSE 'new_business' END,
    round((500 + (d::bigint * 7919) % 50000 * (1 + (d % 13 = 0)::int * 20))::numeric, 2),
    CASE WHEN d % 4 = 0 THEN 100 END,
    CASE WHEN d % 10 = 0 THEN 'EUR' ELSE 'USD' END, 12,
    DATE '2023-01-01' + d % 1400 + 60,
    (ARRAY['', 'pipeline', 'best_case', 'commit', 'omitted'])[1 + d % 5],
    DATE '2023-01-01' + d % 1400,
    CASE WHEN s.outcome <> 'open' THEN DATE '2023-01-01' + d % 1400 + d % 90 END,
    '', '', '', '', '', '', '', DATE '2023-01-01' + d % 1400, 1
FROM generate_series(1, {deals}) d
JOIN LATERAL (SELECT id, outcome FROM pipeline_stage
    WHERE pipeline_id = (SELECT id FROM pipeline_pipeline WHERE is_default)
    ORDER BY position OFFSET (d % 6) LIMIT 1) s ON true;
INSERT INTO pipeline_stagechange (opportunity_id, to_stage_id, entered_on, created_at)
SELECT o.id, st.id, o.created_on + st.position * 5, now()
FROM pipeline_opportunity o
JOIN pipeline_stage st ON st.pipeline_id = o.pipeline_id AND st.position <= 4;
INSERT INTO pipeline_lead (external_id, first_name, last_name, email, company, source,
    utm_source, utm_medium, utm_campaign, status, owner_id, created_on, handed_off_on,
    accepted_on, converted_on, disqualified_reason)
SELECT 'lead-' || l, '', '', '', '', 'web', '', '', '', 'mql',
    (SELECT min(id) FROM revops_user) + l % {users}, DATE '2023-01-01' + l % 1400,
    DATE '2023-01-01' + l % 1400 + 2, DATE '2023-01-01' + l % 1400 + 5, NULL, ''
FROM generate_series(1, {leads}) l;
INSERT INTO crm_subscription (external_id, account_id, product, mrr, currency, start_on, end_on,
    status, churn_note, created_at)
SELECT 'sub-' || s, (SELECT min(id) FROM crm_account) + s % {accounts}, 'Plan',
    100 + s % 900, CASE WHEN s % 10 = 0 THEN 'EUR' ELSE 'USD' END,
    DATE '2023-01-01' + s % 1400, CASE WHEN s % 3 = 0 THEN DATE '2023-01-01' + s % 1400 + 200 END,
    'confirmed', '', now()
FROM generate_series(1, {subs}) s;
INSERT INTO revops_fxrate (currency, rate_to_base, valid_from)
VALUES ('EUR', 1.08, '2023-01-01'), ('EUR', 1.12, '2025-06-01');
SET session_replication_role = origin;
SELECT stage_history_end_refresh(ARRAY(SELECT id FROM pipeline_opportunity));
ANALYZE;
"""


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", choices=sorted(SCALES), default="large")
    scale = parser.parse_args().scale
    url = urlsplit(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/daramad"))
    bench_url = urlunsplit(url._replace(path=f"/daramad_bench_kpi_{scale}"))
    env = {**os.environ, "DATABASE_URL": bench_url, "DJANGO_DEBUG": "true"}
    python = sys.executable

    def manage(*args, **kwargs):
        return subprocess.run([python, "manage.py", *args], cwd=ROOT, env=env, **kwargs)

    os.environ.update(env)
    os.environ["DJANGO_SETTINGS_MODULE"] = "revops.settings"
    sys.path.insert(0, str(ROOT))
    import psycopg

    admin = urlunsplit(url._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [f"daramad_bench_kpi_{scale}"]
        ).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "daramad_bench_kpi_{scale}"')
    manage("migrate", "-v", "0", check=True)
    import django

    django.setup()
    from django.db import connection

    from pipeline.models import Opportunity

    if not Opportunity.objects.exists():
        started = time.monotonic()
        with connection.cursor() as cursor:
            cursor.execute(FILL.format(**SCALES[scale]))
        print(f"filled {scale} in {time.monotonic() - started:.1f} s", file=sys.stderr)

    from metrics.models import KpiDirty
    from metrics.services import Scope, kpi_recompute_day, kpi_refresh_dirty, kpi_report, org_today

    counts = {
        "opportunities": Opportunity.objects.count(),
        "stage history": Opportunity.stage_changes.rel.related_model.objects.count(),
    }
    print(counts, file=sys.stderr)
    results = {}
    for _ in range(3):
        started = time.monotonic()
        kpi_report(org_today(), "month", "gregorian", Scope.org())
        results.setdefault("kpis (in process)", []).append(time.monotonic() - started)
    started = time.monotonic()
    manage("kpis", "--format", "json", check=True, capture_output=True)
    results["kpis command (process)"] = [time.monotonic() - started]
    started = time.monotonic()
    kpi_recompute_day()
    results["full snapshot pass"] = [time.monotonic() - started]
    deal = Opportunity.objects.filter(status="open").first()
    Opportunity.objects.filter(pk=deal.pk).update(amount=deal.amount + 1)
    started = time.monotonic()
    kpi_refresh_dirty()
    results["scoped refresh (one deal)"] = [time.monotonic() - started]
    assert not KpiDirty.objects.exists()
    for name, times in results.items():
        print(f"{name:30} " + "  ".join(f"{t:.2f} s" for t in times))


if __name__ == "__main__":
    main()
