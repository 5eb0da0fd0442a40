"""Time the KPI engine at one of performance.md's scales.

    .venv/bin/python -m revops.launcher exec -- .venv/bin/python bench/kpi_engine.py [--scale large]

Builds (once) a database `daramad_bench_kpi_<scale>` with `seed_demo --scale`, then measures
the `kpis` command for the organisation, one full snapshot pass for every scope, and a
scoped refresh after one deal changes. Stop-gap until `make bench` (issue 10) measures
everything.
"""

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", choices=["medium", "large"], default="large")
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

    from pipeline.models import Opportunity

    if not Opportunity.objects.exists():
        manage("seed_demo", "--scale", scale, "--no-history", check=True)
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
