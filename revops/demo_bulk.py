"""The demo organisation at the scales of shared/spec/performance.md, built in SQL.

`seed_demo --scale medium|large` calls `generate()`: one INSERT … SELECT generate_series per
table, dependencies first, inside one transaction, with the row triggers (audit history, KPI
dirty marks) switched off for the generated rows when the database user may do so (the
derived stage-history table and the statistics are refreshed at the end). Deterministic for
a seed (Postgres `setseed`). Distributions meant to look like a real company's:

- a few big accounts (owners and deals drawn with a power law),
- skewed deal sizes (roughly log-normal, a long tail of large deals),
- seasonality (more deals created in the last month of a quarter, fewer in summer),
- recent deals still open, older ones closed (45 % won), every closed deal with a close date
  after its creation and a stage history through the open stages,
- subscriptions with upgrades, downgrades, churn and reactivations,
- Persian and Latin names.
"""

from __future__ import annotations

import logging
import time

from django.contrib.auth.hashers import make_password
from django.db import DatabaseError, connection, transaction

log = logging.getLogger(__name__)

SCALES = {
    "medium": {
        "users": 100,
        "accounts": 10_000,
        "contacts": 30_000,
        "leads": 100_000,
        "opportunities": 100_000,
        "subscriptions": 20_000,
        "activities": 200_000,
    },
    "large": {
        "users": 500,
        "accounts": 100_000,
        "contacts": 300_000,
        "leads": 1_000_000,
        "opportunities": 1_000_000,
        "subscriptions": 200_000,
        "activities": 2_000_000,
    },
}

PERSIAN_FIRST = "{علی,مریم,حسین,زهرا,امیر,فاطمه,مهدی,نرگس,پرهام,یاسمن,کاوه,شیرین}"
PERSIAN_LAST = "{رضایی,محمدی,حسینی,کریمی,احمدی,جعفری,رحیمی,موسوی,تهرانی,نوری}"
LATIN_FIRST = "{Anna,Lukas,Emma,Noah,Sofia,Liam,Mia,Jonas,Clara,Felix,Ella,Hugo}"
LATIN_LAST = "{Berg,Weber,Smith,Jansen,Rossi,Novak,Larsen,Meyer,Costa,Silva}"
PERSIAN_COMPANY = "{پارس,آریا,کیان,سپهر,نوین,البرز,مهر,آفاق,ایده,رایان}"
PERSIAN_SUFFIX = "{پرداز,داده,سازان,تجارت,گستر,سیستم}"
LATIN_COMPANY = "{Nordic,Atlas,Blue,Vertex,Orbit,Summit,Lumen,Apex,Delta}"
LATIN_SUFFIX = "{Labs,Systems,Retail,Logistics,Health,Energy,Bank}"

# Each statement runs with %(name)s parameters from `_params()`.
STEPS = [
    (
        "users",
        """
        INSERT INTO revops_user (password, is_superuser, email, full_name, role, team_id,
            language, calendar, latin_digits, toman, is_active, is_staff, date_joined,
            email_notifications)
        SELECT %(password)s, false, 'seller' || n || '@' || %(domain)s,
            CASE WHEN random() < 0.5
                 THEN (%(pf)s::text[])[1 + floor(random() * 12)::int] || ' '
                      || (%(pl)s::text[])[1 + floor(random() * 10)::int]
                 ELSE (%(lf)s::text[])[1 + floor(random() * 12)::int] || ' '
                      || (%(ll)s::text[])[1 + floor(random() * 10)::int] END,
            CASE WHEN n %% 10 < 7 THEN 'rep' WHEN n %% 10 < 8 THEN 'marketer' ELSE 'cs' END,
            CASE WHEN n %% 10 < 7 THEN (%(sales_teams)s::bigint[])[1 + n %% %(n_sales)s]
                 WHEN n %% 10 < 8 THEN %(marketing_team)s ELSE %(cs_team)s END,
            'en', '', false, false, true, false, now(), %(email_notifications)s
        FROM generate_series(1, %(users)s) AS n
        ON CONFLICT (email) DO NOTHING
        """,
    ),
    (
        "accounts",
        """
        INSERT INTO crm_account (external_id, name, domain, industry, country, owner_id,
            created_on, is_deleted)
        SELECT 'big-acc-' || n,
            CASE WHEN random() < 0.5
                 THEN (%(pc)s::text[])[1 + floor(random() * 10)::int] || ' '
                      || (%(ps)s::text[])[1 + floor(random() * 6)::int]
                 ELSE (%(lc)s::text[])[1 + floor(random() * 9)::int] || ' '
                      || (%(ls)s::text[])[1 + floor(random() * 7)::int] END || ' ' || n,
            'acc' || n || '.example',
            (ARRAY['Software','Retail','Banking','Logistics','Healthcare','Education','Energy'])
                [1 + floor(random() * 7)::int],
            (ARRAY['Iran','Germany','Türkiye','United Arab Emirates','Netherlands','Sweden'])
                [1 + floor(random() * 6)::int],
            (%(sellers)s::bigint[])[1 + floor(power(random(), 2) * %(n_sellers)s)::int],
            %(today)s::date - floor(random() * 1400)::int, false
        FROM generate_series(1, %(accounts)s) AS n
        """,
    ),
    (
        "contacts",
        """
        INSERT INTO crm_contact (external_id, account_id, first_name, last_name, email, phone,
            title, persona_id, created_on, is_deleted)
        SELECT 'big-con-' || n, a.id,
            (%(pf)s::text[])[1 + floor(random() * 12)::int],
            (%(pl)s::text[])[1 + floor(random() * 10)::int],
            'person' || n || '@acc' || c.account_n || '.example', '+98 21 ' || (1000000 + n),
            (ARRAY['CEO','CTO','Head of Sales','Procurement Manager','CFO'])
                [1 + floor(random() * 5)::int],
            (%(personas)s::bigint[])[1 + floor(random() * %(n_personas)s)::int],
            %(today)s::date - floor(random() * 1000)::int, false
        FROM generate_series(1, %(contacts)s) AS n
        CROSS JOIN LATERAL (
            SELECT n AS row_n, 1 + floor(power(random(), 1.5) * %(accounts)s)::int AS account_n
        ) c
        JOIN crm_account a ON a.external_id = 'big-acc-' || c.account_n
        """,
    ),
    (
        "opportunities",
        """
        WITH base AS (
            SELECT n,
                -- Seasonality: more deals late in a quarter, fewer in summer.
                %(today)s::date - floor(power(random(), 1.2) * 1400)::int AS day,
                random() AS r_status, random() AS r_size, random() AS r_kind,
                1 + floor(power(random(), 2.5) * %(accounts)s)::int AS account_n
            FROM generate_series(1, %(opportunities)s) AS n
        ), seasonal AS (
            -- A quarter of the deals land in the last month of their quarter.
            SELECT *,
                CASE WHEN random() < 0.25
                     THEN least(%(today)s::date, (date_trunc('quarter', day)
                          + interval '2 months')::date + floor(random() * 28)::int)
                     ELSE day END AS created_on
            FROM base
        ), shaped AS (
            SELECT *,
                CASE WHEN created_on > %(today)s::date - 120 AND r_status < 0.8 THEN 'open'
                     WHEN r_status < 0.45 THEN 'won' ELSE 'lost' END AS status
            FROM seasonal
        )
        INSERT INTO pipeline_opportunity (external_id, account_id, name, owner_id, pipeline_id,
            stage_id, status, kind, amount, one_time_amount, currency, contract_months,
            expected_close_on, forecast_category, created_on, closed_on, lost_reason, metrics,
            economic_buyer, decision_criteria, decision_process, identified_pain, champion,
            stage_entered_on, version)
        SELECT 'big-opp-' || s.n, a.id,
            (ARRAY['CRM','Analytics','Support','Seats'])[1 + s.n %% 4] || ' ' || s.n,
            CASE WHEN random() < 0.8 THEN a.owner_id
                 ELSE (%(reps)s::bigint[])[1 + floor(random() * %(n_reps)s)::int] END,
            %(pipeline)s,
            CASE s.status WHEN 'won' THEN %(won_stage)s WHEN 'lost' THEN %(lost_stage)s
                 ELSE (%(open_stages)s::bigint[])[1 + floor(random() * 4)::int] END,
            s.status,
            CASE WHEN s.r_kind < 0.7 THEN 'new_business' WHEN s.r_kind < 0.9 THEN 'expansion'
                 ELSE 'renewal' END,
            -- Roughly log-normal: most deals small, a long tail of big ones.
            round((500 * exp(4.5 * power(s.r_size, 1.6)))::numeric, 0),
            CASE WHEN random() < 0.2 THEN 100 END,
            CASE WHEN random() < 0.1 THEN 'EUR' ELSE %(base)s END,
            (ARRAY[12, 12, 24, 36])[1 + floor(random() * 4)::int],
            CASE WHEN s.status = 'open' THEN %(today)s::date + floor(random() * 120)::int END,
            (ARRAY['', 'pipeline', 'best_case', 'commit', 'omitted'])[1 + floor(random() * 5)::int],
            s.created_on,
            CASE WHEN s.status <> 'open'
                 THEN least(%(today)s::date, s.created_on + 7 + floor(random() * 150)::int) END,
            CASE WHEN s.status = 'lost' THEN 'Chose a competitor' ELSE '' END,
            CASE WHEN random() < 0.6 THEN 'Known' ELSE '' END,
            CASE WHEN random() < 0.5 THEN 'Known' ELSE '' END, '', '',
            CASE WHEN random() < 0.6 THEN 'Known' ELSE '' END, '',
            s.created_on, 1
        FROM shaped s
        JOIN crm_account a ON a.external_id = 'big-acc-' || s.account_n
        """,
    ),
    (
        "stage history",
        """
        INSERT INTO pipeline_stagechange (opportunity_id, from_stage_id, to_stage_id,
            entered_on, created_at)
        SELECT o.id, NULL::bigint, st.id,
            least(coalesce(o.closed_on, %(today)s::date),
                  o.created_on + ((st.position - 1) * (3 + (o.id %% 20)))::int),
            now()
        FROM pipeline_opportunity o
        JOIN pipeline_stage cur ON cur.id = o.stage_id
        JOIN pipeline_stage st ON st.pipeline_id = o.pipeline_id AND st.outcome = 'open'
            AND (cur.outcome <> 'open' OR st.position <= cur.position)
        WHERE o.external_id LIKE 'big-opp-%%'
        UNION ALL
        SELECT o.id, NULL::bigint, o.stage_id, o.closed_on, now()
        FROM pipeline_opportunity o
        WHERE o.external_id LIKE 'big-opp-%%' AND o.status <> 'open'
        """,
    ),
    (
        "leads",
        """
        INSERT INTO pipeline_lead (external_id, first_name, last_name, email, company, source,
            utm_source, utm_medium, utm_campaign, score, status, owner_id, created_on,
            handed_off_on, accepted_on, converted_on, disqualified_reason)
        SELECT 'big-lead-' || n,
            (%(pf)s::text[])[1 + floor(random() * 12)::int],
            (%(pl)s::text[])[1 + floor(random() * 10)::int],
            'lead' || n || '@prospect.example', 'Prospect ' || (n %% 5000),
            (ARRAY['webinar','website','referral','event','paid_search','linkedin'])
                [1 + floor(random() * 6)::int],
            '', '', (ARRAY['nowruz-1405','spring-webinar','crm-guide','partner-week',''])
                [1 + floor(random() * 5)::int],
            floor(random() * 100)::int, st.status,
            CASE WHEN st.status IN ('sql', 'converted')
                 THEN (%(reps)s::bigint[])[1 + floor(random() * %(n_reps)s)::int]
                 ELSE (%(marketers)s::bigint[])[1 + floor(random() * %(n_marketers)s)::int] END,
            st.created_on,
            CASE WHEN st.status IN ('mql', 'sql', 'converted') THEN st.created_on + 2 END,
            CASE WHEN st.status IN ('sql', 'converted') THEN st.created_on + 4 END,
            CASE WHEN st.status = 'converted' THEN st.created_on + 9 END,
            CASE WHEN st.status = 'disqualified' THEN 'No budget' ELSE '' END
        FROM generate_series(1, %(leads)s) AS n
        CROSS JOIN LATERAL (
            SELECT n AS row_n,
                   least(%(today)s::date - 10, %(today)s::date - floor(random() * 1400)::int)
                       AS created_on,
                   (ARRAY['new','working','mql','mql','sql','converted','disqualified'])
                       [1 + floor(random() * 7)::int] AS status
        ) st
        """,
    ),
    (
        "lead conversions",
        """
        UPDATE pipeline_lead l SET converted_opportunity_id = o.id
        FROM pipeline_opportunity o
        WHERE l.status = 'converted' AND l.external_id LIKE 'big-lead-%%'
          AND o.external_id = 'big-opp-' || (1 + (hashtext(l.external_id) & 2147483647)
                                              %% %(opportunities)s)
          AND o.created_on >= l.created_on
        """,
    ),
    (
        "subscriptions",
        """
        INSERT INTO crm_subscription (external_id, account_id, product, mrr, currency, start_on,
            end_on, status, churn_note, created_at)
        SELECT 'big-sub-' || n, a.id, (ARRAY['Seats','Analytics','Support'])[1 + n %% 3],
            (ARRAY[150, 300, 500, 900, 2500, 6000])[1 + floor(power(random(), 1.5) * 6)::int],
            CASE WHEN random() < 0.1 THEN 'EUR' ELSE %(base)s END,
            s.start_on,
            CASE WHEN random() < 0.3 THEN s.start_on + 60 + floor(random() * 600)::int END,
            'confirmed', '', now()
        FROM generate_series(1, %(subscriptions)s) AS n
        CROSS JOIN LATERAL (
            SELECT n AS row_n, %(today)s::date - floor(random() * 1200)::int AS start_on,
                   1 + floor(power(random(), 1.5) * %(accounts)s)::int AS account_n
        ) s
        JOIN crm_account a ON a.external_id = 'big-acc-' || s.account_n
        """,
    ),
    (
        "activities",
        """
        INSERT INTO crm_activity (external_id, kind, subject, body, account_id, opportunity_id,
            owner_id, occurred_on, due_on, done, created_at)
        SELECT 'big-act-' || n, k.kind,
            CASE k.kind WHEN 'call' THEN 'Discovery call' WHEN 'email' THEN 'Sent proposal'
                 WHEN 'meeting' THEN 'Demo meeting' WHEN 'task' THEN 'Send quote'
                 ELSE 'Budget approved next quarter' END,
            '', o.account_id, o.id, o.owner_id,
            least(%(today)s::date, o.created_on + floor(random() * 60)::int),
            CASE WHEN k.kind = 'task' THEN %(today)s::date + floor(random() * 30)::int - 10 END,
            k.kind <> 'task' OR random() < 0.6, now()
        FROM generate_series(1, %(activities)s) AS n
        CROSS JOIN LATERAL (
            SELECT n AS row_n,
                   (ARRAY['call','email','meeting','note','task'])[1 + floor(random() * 5)::int]
                       AS kind,
                   1 + floor(random() * %(opportunities)s)::int AS opp_n
        ) k
        JOIN pipeline_opportunity o ON o.external_id = 'big-opp-' || k.opp_n
        """,
    ),
    (
        "quotas",
        """
        INSERT INTO metrics_quota (user_id, period_start, period_end, amount)
        SELECT r.id, q.start, (q.start + interval '3 months' - interval '1 day')::date,
            (ARRAY[300000, 500000, 800000])[1 + floor(random() * 3)::int]
        FROM unnest(%(reps)s::bigint[]) AS r(id)
        CROSS JOIN LATERAL (
            SELECT (date_trunc('quarter', %(today)s::date) - make_interval(months => 3 * k))::date
                       AS start
            FROM generate_series(-1, 4) AS k
        ) q
        ON CONFLICT DO NOTHING
        """,
    ),
]


def generate(scale: str, *, seed: int, today, base: str, stderr=None) -> dict:
    """Insert the `scale`'s generated records; returns the seconds each step took."""
    from crm.models import Persona
    from pipeline.defaults import ensure_default_pipeline
    from pipeline.models import Pipeline, Stage
    from revops.models import FxRate, Team, User, default_email_notifications

    counts = SCALES[scale]
    timings = {}
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT setseed(%s)", [(seed % 1000) / 1000])
            try:
                with transaction.atomic():
                    cursor.execute("SET LOCAL session_replication_role = replica")
            except DatabaseError:
                log.warning("row triggers stay on (not a superuser): the load is slower")
        pipeline = ensure_default_pipeline(Pipeline, Stage)
        stages = {s.outcome: s for s in pipeline.stages.exclude(outcome="open")}
        open_stages = list(
            pipeline.stages.filter(outcome="open").order_by("position").values_list("pk", flat=True)
        )
        sales = list(Team.objects.filter(kind=Team.Kind.SALES).values_list("pk", flat=True))
        marketing = Team.objects.filter(kind=Team.Kind.MARKETING).first()
        cs = Team.objects.filter(kind=Team.Kind.CS).first()
        personas = list(Persona.objects.values_list("pk", flat=True))
        FxRate.objects.get_or_create(
            currency="EUR",
            valid_from=today.replace(year=today.year - 5),
            defaults={"rate_to_base": "1.08"},
        )
        params = {
            **counts,
            "password": make_password("demo"),
            "email_notifications": default_email_notifications(),
            "domain": "daramad.example",
            "pf": PERSIAN_FIRST,
            "pl": PERSIAN_LAST,
            "lf": LATIN_FIRST,
            "ll": LATIN_LAST,
            "pc": PERSIAN_COMPANY,
            "ps": PERSIAN_SUFFIX,
            "lc": LATIN_COMPANY,
            "ls": LATIN_SUFFIX,
            "sales_teams": sales,
            "n_sales": len(sales),
            "marketing_team": marketing.pk,
            "cs_team": cs.pk,
            "today": today,
            "base": base,
            "pipeline": pipeline.pk,
            "won_stage": stages["won"].pk,
            "lost_stage": stages["lost"].pk,
            "open_stages": open_stages,
            "personas": personas,
            "n_personas": len(personas),
        }
        for name, sql in STEPS:
            if name == "accounts":
                people = User.objects.filter(is_active=True)
                params["reps"] = list(
                    people.filter(role=User.Role.REP).values_list("pk", flat=True)
                )
                params["n_reps"] = len(params["reps"])
                params["sellers"] = list(
                    people.filter(role__in=[User.Role.REP, User.Role.CS]).values_list(
                        "pk", flat=True
                    )
                )
                params["n_sellers"] = len(params["sellers"])
                params["marketers"] = list(
                    people.filter(role=User.Role.MARKETER).values_list("pk", flat=True)
                )
                params["n_marketers"] = len(params["marketers"])
            started = time.monotonic()
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
            timings[name] = round(time.monotonic() - started, 1)
            if stderr is not None:
                stderr.write(f"  {name}: {timings[name]} s")
        started = time.monotonic()
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT stage_history_end_refresh(ARRAY(SELECT id FROM pipeline_opportunity "
                "WHERE external_id LIKE 'big-opp-%%'))"
            )
        timings["stage history end"] = round(time.monotonic() - started, 1)
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    timings["analyze"] = round(time.monotonic() - started, 1)
    return timings
